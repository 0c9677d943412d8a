"""PowerShell mistakes in the certificate payloads that no simulator model can see, checked on their text and parse.

The simulator runs Python models of the payloads, so a bug in the PowerShell itself passes every model test. These
tests hold the certificate payloads (pfx_import, private_key_acl, ca_certificates, cert_serial_registry, with their
fragments inlined, as they reach the host) to what Windows PowerShell 5.1 and .NET Framework do with them.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest

from winsim import powershell

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import payload_source

REPO = pathlib.Path(__file__).resolve().parents[2]
POWERSHELL = REPO / "plugins" / "plugin_utils" / "_powershell"
CERTIFICATE_PAYLOADS = ["pfx_import", "private_key_acl", "ca_certificates", "cert_serial_registry"]

# --- type-constrained names -------------------------------------------------------------------------------------------------
#
# PowerShell variable names ignore case, and a type-constrained variable keeps its type: with a [string]$Store
# parameter, `$store = [X509Store]::new(...)` stores the text "System.Security.Cryptography.X509Certificates.X509Store"
# and `$store.Add($leaf)` then fails. A foreach loop variable is assigned the same way.

_SCOPES = ("function_statement", "script_block_expression")
# The single-child wrappers tree-sitter-powershell puts around an expression.
_WRAPPERS = {"unary_expression", "array_literal_expression", "range_expression", "format_expression", "multiplicative_expression",
             "additive_expression", "comparison_expression", "bitwise_expression", "logical_expression", "pipeline",
             "pipeline_chain", "left_assignment_expression", "expression_with_unary_operator"}


def _name(variable) -> str:
    """A variable's name as PowerShell compares it: without $ or braces, lower case, with its scope modifier if any."""
    text = variable.text.decode()[1:]
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    text = text.lower()
    return text[len("local:"):] if text.startswith("local:") else text


def _param_blocks(scope):
    blocks = [c for c in scope.children if c.type == "param_block"]
    for child in scope.children:
        if child.type == "script_block":
            blocks += [c for c in child.children if c.type == "param_block"]
    return blocks


def _typed_parameters(scope) -> dict[str, int]:
    """Every parameter of the scope's param() block that an attribute types ([string]$Store), by name, with its line."""
    typed = {}
    for block in _param_blocks(scope):
        for parameter in block.named_children:
            for script_parameter in (parameter.named_children if parameter.type == "parameter_list" else []):
                attributes = next((c for c in script_parameter.children if c.type == "attribute_list"), None)
                variable = next((c for c in script_parameter.children if c.type == "variable"), None)
                if attributes is not None and variable is not None and any(
                        a.child_count and a.children[0].type == "type_literal" for a in attributes.children):
                    typed[_name(variable)] = variable.start_point[0] + 1
    return typed


def _in_scope(scope):
    """The nodes of one scope, not those of the functions and script blocks nested in it."""
    stack = list(scope.children)
    while stack:
        node = stack.pop()
        yield node
        if node.type not in _SCOPES:
            stack.extend(node.children)


def _assigned(left):
    """The variables an assignment's left side assigns to as a whole ($x, [int]$x, $a, $b), not $x[0] or $x.Property."""
    node = left
    while node.type in _WRAPPERS and node.named_child_count == 1:
        node = node.named_children[0]
    if node.type == "variable":
        return [(node, False)]
    if node.type == "cast_expression":
        inner = node.named_children[-1]
        while inner.type in _WRAPPERS and inner.named_child_count == 1:
            inner = inner.named_children[0]
        return [(inner, True)] if inner.type == "variable" else []
    if node.type == "array_literal_expression":
        return [found for child in node.named_children for found in _assigned(child)]
    return []


def typed_name_reassignments(source: str) -> list[str]:
    """Each assignment, in any function or at script level, to a name a type constraint of that scope holds."""
    root = powershell.parse(source).root_node
    scopes = [root] + [node for node in _walk(root) if node.type in _SCOPES]
    script_typed = _typed_parameters(root)
    problems = []
    for scope in scopes:
        typed = dict(_typed_parameters(scope))
        assignments = []
        for node in _in_scope(scope):
            if node.type == "assignment_expression":
                assignments += _assigned(node.children[0])
            elif node.type == "foreach_statement":
                assignments += [(c, False) for c in node.children if c.type == "variable"][:1]
        # A typed declaration ([int]$count = 0) constrains the name for the rest of the scope.
        for variable, declared in assignments:
            if declared:
                typed.setdefault(_name(variable), variable.start_point[0] + 1)
        for variable, declared in assignments:
            name = _name(variable)
            constraints = script_typed if name.startswith("script:") else typed
            name = name[len("script:"):] if name.startswith("script:") else name
            if not declared and name in constraints:
                where = "the script" if scope is root else _scope_name(scope)
                problems.append(f"line {variable.start_point[0] + 1}: {variable.text.decode()} in {where} assigns to the "
                                f"type-constrained ${name} of line {constraints[name]}")
    return problems


def _walk(node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.children)


def _scope_name(scope) -> str:
    name = next((c for c in scope.children if c.type == "function_name"), None)
    return f"function {name.text.decode()}" if name is not None else "a script block"


def test_the_check_finds_the_store_parameter_assigned_an_x509store():
    broken = '''
function Import-PfxContent {
    param(
        [Parameter(Mandatory)]
        [string]$Store
    )
    $store = Open-LocalMachineStore -Name $Store -ForWrite
    $store.Add($leaf)
}
'''
    assert typed_name_reassignments(broken) == [
        "line 7: $store in function Import-PfxContent assigns to the type-constrained $store of line 5"]


@pytest.mark.parametrize("snippet, found", [
    ("function F {\n    param([string[]]$Names)\n    foreach ($names in @(1)) { }\n}", "$names in function F"),
    ("function F {\n    param([bool]$Flag)\n    $a, $FLAG = 1, 2\n}", "$FLAG in function F"),
    ("function F {\n    [int]$count = 0\n    $Count = 'many'\n}", "$Count in function F"),
    ("param([int]$Depth)\n$depth = 'deep'", "$depth in the script"),
    ("param([int]$Depth)\nfunction F {\n    $script:depth = 'deep'\n}", "$script:depth in function F"),
    ("$block = {\n    param([int]$N)\n    $n = 'x'\n}", "$n in a script block"),
], ids=["foreach variable", "multiple assignment", "typed declaration", "script scope", "script: modifier", "script block"])
def test_the_check_finds_every_way_of_assigning_a_typed_name(snippet, found):
    assert powershell.syntax_problems(snippet) == []
    problems = typed_name_reassignments(snippet)
    assert len(problems) == 1 and found in problems[0], problems


@pytest.mark.parametrize("snippet", [
    "function F {\n    param([string]$StoreName)\n    $store = 1\n}",
    "function F {\n    param([hashtable]$Result)\n    $Result['imported'] = $true\n    $Result.Count = 1\n}",
    "function F {\n    param([string]$Name)\n}\nfunction G {\n    $name = 1\n}",
    "param([string]$Store)\nfunction F {\n    $store = 1\n}",
    "function F {\n    param($Untyped)\n    $untyped = 1\n}",
], ids=["another name", "an element or member", "another function", "a function's own variable", "an untyped parameter"])
def test_the_check_leaves_what_powershell_allows(snippet):
    assert powershell.syntax_problems(snippet) == []
    assert typed_name_reassignments(snippet) == []


@pytest.mark.parametrize("payload", CERTIFICATE_PAYLOADS)
def test_no_certificate_payload_assigns_to_a_type_constrained_name(payload):
    assert typed_name_reassignments(payload_source(payload)) == []


# --- other PowerShell and .NET traps ---------------------------------------------------------------------------------------


def _function(source: str, name: str) -> str:
    """The text of one function of the script."""
    for node in _walk(powershell.parse(source).root_node):
        if node.type == "function_statement" and any(c.type == "function_name" and c.text.decode() == name for c in node.children):
            return node.text.decode()
    raise AssertionError(f"no function {name}")


def test_the_error_helper_unwraps_target_invocation_exceptions():
    # ADSI and reflection wrap the exception a member threw in a TargetInvocationException ("Exception has been thrown by
    # the target of an invocation."); Windows' own message is its inner exception's.
    helper = _function((POWERSHELL / "_errors.ps1").read_text(encoding="utf-8"), "Get-UnderlyingException")
    loop = helper[helper.index("while"):helper.index("{", helper.index("while"))]
    for wrapper in ("System.Management.Automation.MethodException", "System.Reflection.TargetInvocationException",
                    "System.Management.Automation.GetValueInvocationException",
                    "System.Management.Automation.SetValueInvocationException"):
        assert f"-is [{wrapper}]" in loop, wrapper


def test_the_pfx_is_imported_with_a_null_password_when_there_is_none():
    # $null passed to a .NET string parameter arrives as "", which is a password; NullString passes null.
    importer = _function(payload_source("pfx_import"), "Import-LeafFromPfx")
    call = re.search(r"\$collection\.Import\(\$pfxBytes, \$(\w+), \$flags\)", importer)
    assert call, "X509Certificate2Collection.Import(Byte[], String, X509KeyStorageFlags) is called"
    assignments = re.findall(rf"\${call.group(1)} = (.+)", importer[:call.start()])
    assert assignments[0] == "[NullString]::Value", assignments


def test_the_pfx_is_only_opened_to_import_the_leaf():
    # CA certificates come as their own DER bytes: no X509KeyStorageFlags choice can keep Import from writing the PFX's
    # key to the machine key store, so opening the PFX only for them would leave that key there for good.
    source = payload_source("pfx_import")
    # Import-LeafFromPfx opens it, and only there: with null for no password and, when Windows refuses null, with "".
    importer = _function(source, "Import-LeafFromPfx")
    assert source.count("$collection.Import(") == importer.count("$collection.Import(") == 2
    apply = _function(source, "Invoke-Apply")
    assert re.search(r"if \(\$importLeafNow\) \{\s+Import-LeafFromPfx ", apply)
    assert "Add-CaCertificate -Store $step.Store -Certificate $step.Certificate" in apply


def test_the_import_reports_a_change_as_soon_as_the_pfx_has_written_its_keys():
    # PFXImportCertStore persists the PFX's keys unless PKCS12_NO_PERSIST_KEY: once Import returns, the host has changed,
    # and a leaf missing from the PFX, a failing store or a failing Add must not report changed=false.
    importer = _function(payload_source("pfx_import"), "Import-LeafFromPfx")
    imported = importer.rindex("$collection.Import(")
    keys = importer.index("foreach ($element in $collection)", imported)
    searched = importer.index("foreach ($element in $collection)", keys + 1)
    assert searched < importer.index("$leafStore.Add($leaf)")
    assert re.match(r"foreach \(\$element in \$collection\) \{\s+if \(\$element\.HasPrivateKey\) \{\s+"
                    r"\$Ansible\.Changed = \$true\s+\$Ansible\.Result\['key_written'\] = \$true\s+\$keysLeft = ",
                    importer[keys:searched])
    changed = importer.index("$Ansible.Changed = $true")
    assert keys < changed < searched
    after = importer[changed:]
    throws = re.findall(r'throw "Cannot import: [^"]*"', after)
    assert len(throws) == 2 and all(message.endswith('; $keysLeft."') for message in throws), throws
    contexts = re.findall(r'New-ContextException -Context "([^"]*)"', after)
    assert len(contexts) == 2 and all(context.endswith("($keysLeft)") for context in contexts), contexts
    assert "machine key store" in re.search(r"\$keysLeft = \"([^\"]*)\"", importer).group(1)
    assert "nothing was written" in re.search(r"\$keysLeft = '([^']*)'", importer).group(1)


def test_a_pfx_without_a_password_is_opened_with_an_empty_one_only_when_windows_refuses_null():
    # PFXImportCertStore needs the password "exactly the same as the value that was used to encrypt the packet", and
    # null and "" are two different ones; the controller's parser accepts both for a PFX without a password.
    importer = _function(payload_source("pfx_import"), "Import-LeafFromPfx")
    first = importer.index("$collection.Import($pfxBytes, $password, $flags)")
    retry = importer.index("$collection.Import($pfxBytes, [string]::Empty, $flags)")
    catch = importer[first:retry]
    assert re.search(r"\}\s+catch \{\s+\$cause = Get-UnderlyingException -ErrorRecord \$_", catch)
    assert "$wrongPassword = $cause.HResult -eq 86 -or $cause.HResult -eq -2147024810" in catch
    assert re.search(r"if \(\$null -ne \$PfxPasswordContent -or -not \$wrongPassword\) \{\s+throw\s+\}\s+$", catch)


def test_archived_copies_are_seen_by_the_leaf_probe_and_restored_after_an_add():
    # Without IncludeArchived an enumeration skips a certificate with CERT_ARCHIVED_PROP_ID, and X509Store.Add
    # (CERT_STORE_ADD_REPLACE_EXISTING_INHERIT_PROPERTIES) keeps an archived copy archived.
    source = payload_source("pfx_import")
    opener = _function(source, "Open-LocalMachineStore")
    assert re.search(r"if \(\$IncludeArchived\) \{\s+\$openFlags = \$openFlags -bor "
                     r"\[System\.Security\.Cryptography\.X509Certificates\.OpenFlags\]::IncludeArchived\s+\}", opener)
    restore = _function(source, "Restore-ArchivedCertificate")
    assert re.search(r"if \(\$candidate\.Archived -and \[string\]::Equals\(\$candidate\.Thumbprint, \$Thumbprint, ", restore)
    assert "$candidate.Archived = $false" in restore
    assert "$candidate.Reset()" in restore
    finder = _function(source, "Find-LocalMachineCertificate")
    assert re.search(r"if \(\$IncludeArchived\) \{\s+\$openFlags = \$openFlags -bor "
                     r"\[System\.Security\.Cryptography\.X509Certificates\.OpenFlags\]::IncludeArchived\s+\}", finder)

    importer = _function(source, "Import-LeafFromPfx")
    assert "Open-LocalMachineStore -Name $TargetStoreName -ForWrite -CreateMissing -IncludeArchived" in importer
    assert importer.index("$leafStore.Add($leaf)") < importer.index("Restore-ArchivedCertificate -Store $leafStore -Thumbprint $LeafThumbprint")
    add = _function(source, "Add-CaCertificate")
    assert "Open-LocalMachineStore -Name $Store -ForWrite -IncludeArchived" in add
    assert add.index("$target.Add($Certificate)") < add.index("Restore-ArchivedCertificate -Store $target -Thumbprint $Certificate.Thumbprint")
    apply = _function(source, "Invoke-Apply")
    assert "Open-LocalMachineStore -Name $TargetStoreName -ForWrite -IncludeArchived" in apply
    assert "Restore-ArchivedCertificate -Store $leafStore -Thumbprint $LeafThumbprint" in apply

    probe = _function(source, "Invoke-Probe")
    assert "Get-CertificateKeyReport -StoreName $TargetStoreName -Thumbprint $LeafThumbprint -IncludeArchived" in probe
    # The chain is looked up as Windows shows the store: an archived CA certificate is added again, and restored.
    assert "Find-LocalMachineCertificate -StoreName $entry.Store -Thumbprint $entry.Thumbprint\n" in probe
    report = _function(source, "Get-CertificateKeyReport")
    assert "Find-LocalMachineCertificate -StoreName $StoreName -Thumbprint $Thumbprint -IncludeArchived:$IncludeArchived" in report
    assert "$report['archived'] = $certificate.Archived" in report
    assert "-IncludeArchived" in _function(source, "Set-StoredCertificateKeyAcl")
    assert "Add-CaCertificate -Store $step.Store -Certificate $step.Certificate" in _function(
        payload_source("ca_certificates"), "Invoke-Apply")


def test_the_serial_probe_opens_the_key_and_reads_nothing_from_it():
    # A TPM or HSM provider need not support the "Security Descr" property: reading the DACL would fail the probe.
    report = _function(payload_source("cert_serial_registry"), "Get-CertificateReport")
    assert re.search(r"Get-CertificateKeyReport -StoreName \$Store -Thumbprint \$CertificateThumbprint -OpenOnly", report)
    fragment = _function(payload_source("cert_serial_registry"), "Get-CertificateKeyReport")
    opened = fragment.index("Open-CertificatePrivateKey -Certificate $certificate")
    returned = fragment.index("return $report", fragment.index("if ($OpenOnly) {"))
    assert opened < returned < fragment.index("GetProviderName()")
    assert returned < fragment.index("GetSecurityDescriptor()")


def test_removal_deletes_from_the_default_physical_store_only():
    # X509Store opens the logical store, whose Remove deletes a certificate from whichever physical store
    # (.GroupPolicy, .Enterprise, .AuthRoot) the copy it is given came from.
    source = payload_source("ca_certificates")
    remove = _function(source, "Remove-CaCertificate")
    assert "[Pkiops.KeyfactorCommand.Certificates.PhysicalStore]::RemoveCertificate($Store, '.Default', $Thumbprint)" in remove
    assert ".Remove(" not in source
    assert "CERT_STORE_PROV_PHYSICAL_W = new IntPtr(14)" in source


def test_a_removal_is_a_change_only_when_it_deleted_a_copy():
    # RemoveCertificate returns how many copies it deleted; none when the certificate left .Default since the probe.
    source = payload_source("ca_certificates")
    remove = _function(source, "Remove-CaCertificate")
    assert "[void]" not in remove
    assert "[Pkiops.KeyfactorCommand.Certificates.PhysicalStore]::RemoveCertificate($Store, '.Default', $Thumbprint)" in remove
    apply = _function(source, "Invoke-Apply")
    removal = apply[apply.index("$removed = Remove-CaCertificate"):]
    assert re.match(r"\$removed = Remove-CaCertificate -Store \$step\.Store -Thumbprint \$step\.Thumbprint\s+"
                    r"\$done\['removed'\] = \$removed\s+if \(\$removed -gt 0\) \{\s+\$Ansible\.Changed = \$true\s+\}", removal)
    # The one other place that reports a change is the add.
    assert apply.count("$Ansible.Changed = $true") == 2
    assert re.search(r"Add-CaCertificate -Store \$step\.Store -Certificate \$step\.Certificate\s+\$Ansible\.Changed = \$true", apply)


def test_a_serial_write_reports_the_key_it_created_before_setting_the_value():
    # CreateSubKey creates the key and its missing parents; a SetValue that then fails must not report "no change".
    apply = _function(payload_source("cert_serial_registry"), "Invoke-Apply")
    looked = apply.index("$existing = $base.OpenSubKey($SubKey, $false)")
    created = apply.index("$target = $base.CreateSubKey($SubKey, ")
    reported = apply.index("$result['key_created'] = $true")
    written = apply.index("$target.SetValue($Name, $Data, ")
    assert looked < created < reported < written
    assert re.search(r"if \(-not \$keyExisted\) \{\s+\$result\['key_created'\] = \$true\s+\$Ansible\.Changed = \$true\s+\}",
                     apply)
    assert re.search(r"\$keyExisted = \$null -ne \$existing", apply)


@pytest.mark.parametrize("payload", ["pfx_import", "private_key_acl", "user_rights"])
def test_a_local_group_is_retried_in_the_builtin_domain_by_its_localised_name(payload):
    # A German Windows names the built-in domain VORDEFINIERT, and the name lookup knows no BUILTIN there.
    source = payload_source(payload)
    convert = _function(source, "ConvertTo-PrincipalSid")
    assert "NTAccount]::new('BUILTIN'" not in convert
    assert re.search(r"\$builtinDomain = Get-BuiltinDomainName\s+return \(\[System\.Security\.Principal\.NTAccount\]::new\("
                     r"\$builtinDomain, \$user\)\)\.Translate\(", convert)
    name = _function(source, "Get-BuiltinDomainName")
    assert "[System.Security.Principal.SecurityIdentifier]::new('S-1-5-32-544')" in name
    assert ".Translate([System.Security.Principal.NTAccount]).Value.Split('\\')[0]" in name


def test_not_found_is_a_missing_key_only_from_a_provider_that_comes_with_windows():
    # A third-party provider may give NTE_NOT_FOUND or ERROR_FILE_NOT_FOUND for a device it cannot reach or for itself not
    # being installed; pfx_import imports again over a 'missing' key.
    source = payload_source("pfx_import")
    failure = _function(source, "Get-KeyOpenFailure")
    not_found = failure[failure.index("$notFound = @("):]
    not_found = not_found[:not_found.index(")")]
    assert "-2146893807" in not_found and "-2147024894" in not_found and re.search(r"\b2, # ERROR_FILE_NOT_FOUND", not_found)
    missing = failure[failure.index("$missing = @("):failure.index("$notFound = @(")]
    assert "-2146893807" not in missing and "-2147024894" not in missing
    assert "$fromWindows = [string]::IsNullOrEmpty($ProviderName) -or $windowsSoftwareProviders -contains $ProviderName" in failure
    assert "elseif ($missing -contains $code -or ($fromWindows -and $notFound -contains $code)) {" in failure
    providers = re.findall(r"'(Microsoft [^']+)'", failure)
    assert "Microsoft Software Key Storage Provider" in providers
    assert not [p for p in providers if "Smart Card" in p or "Platform" in p]
    report = _function(source, "Get-CertificateKeyReport")
    assert "[Pkiops.KeyfactorCommand.Certificates.CertificatePrivateKey]::GetKeyProviderName($certificate)" in report
    assert "Get-KeyOpenFailure -Cause $cause -ProviderName $providerName" in report
    helper = source[source.index("public static string GetKeyProviderName("):]
    helper = helper[:helper.index("public bool IsCng")]
    assert "NativeMethods.CERT_KEY_PROV_INFO_PROP_ID" in helper and "internal const uint CERT_KEY_PROV_INFO_PROP_ID = 2;" in source
    # pwszProvName is CRYPT_KEY_PROV_INFO's second member, after pwszContainerName.
    assert "Marshal.ReadIntPtr(buffer, IntPtr.Size)" in helper


# --- validation patterns end in \z ------------------------------------------------------------------------------------------
#
# In .NET regular expressions, as in Python's, $ matches at the end of the text and also before a final newline, so
# '^[0-9A-F]{40}$' accepts a thumbprint followed by "\n". \z matches only at the very end.

_MATCH_OPERAND = re.compile(r"-c?i?(?:not)?match '((?:[^']|'')*)'", re.IGNORECASE)


def end_anchor_problems(source: str) -> list[str]:
    """Each pattern of a -match family operator that ends in $, which lets a final newline through."""
    return [f"'{pattern}' ends in $; use \\z" for pattern in _MATCH_OPERAND.findall(source)
            if re.search(r"(?<!\\)\$\)*$", pattern)]


def test_the_check_finds_a_pattern_anchored_with_a_dollar():
    broken = "if ($Value -cnotmatch '^[0-9A-F]{40}$') { throw 'x' }\nif ($Data -notmatch '^(AB)+$') { }"
    assert powershell.syntax_problems(broken) == []
    assert end_anchor_problems(broken) == ["'^[0-9A-F]{40}$' ends in $; use \\z", "'^(AB)+$' ends in $; use \\z"]
    assert end_anchor_problems("$Value -match '^S-1-' -and $Other -cmatch '^[0-9]+\\z' -and $x -match 'US\\$'") == []


@pytest.mark.parametrize("payload", CERTIFICATE_PAYLOADS)
def test_no_validation_pattern_lets_a_final_newline_through(payload):
    source = payload_source(payload)
    assert end_anchor_problems(source) == []
    # What each anchored pattern of these payloads is for, and the value it must still accept: Python's \Z is .NET's \z.
    accepted = {r"^[0-9A-F]{40}\z": "AB" * 20, r"^([0-9A-F]{2})+\z": "0080AB"}
    anchored = [pattern for pattern in _MATCH_OPERAND.findall(source) if pattern.endswith(r"\z")]
    assert anchored, f"{payload} checks its thumbprint with an anchored pattern"
    for pattern in anchored:
        assert pattern in accepted, f"{pattern}: add the value it must accept to this test"
        compiled = re.compile(pattern.replace(r"\z", r"\Z"))
        assert compiled.search(accepted[pattern])
        assert not compiled.search(accepted[pattern] + "\n")


# --- Add-Type blocks compile as C# 5 against .NET Framework 4.x -----------------------------------------------------------

_MONO_API = pathlib.Path("/usr/lib/mono/4.8-api")


@pytest.mark.parametrize("payload", CERTIFICATE_PAYLOADS)
def test_every_add_type_block_compiles_as_csharp_5(payload, tmp_path):
    if shutil.which("mcs") is None or not _MONO_API.is_dir():
        pytest.fail("mcs and Mono's .NET 4.x reference assemblies (mono-mcs, mono-devel) are needed; tools/bootstrap installs them")
    blocks = re.findall(r"Add-Type -TypeDefinition @'\n(.*?)\n'@", payload_source(payload), re.DOTALL)
    assert blocks, f"{payload} has an Add-Type block"
    for number, block in enumerate(blocks):
        path = tmp_path / f"{payload}-{number}.cs"
        path.write_text(block, encoding="utf-8")
        references = [f"-r:{_MONO_API / name}" for name in ("mscorlib.dll", "System.dll", "System.Core.dll")]
        compiled = subprocess.run(["mcs", "-langversion:5", "-target:library", "-nostdlib", *references,
                                   f"-out:{tmp_path / 'out.dll'}", str(path)], capture_output=True, text=True, check=False)
        assert compiled.returncode == 0, compiled.stdout + compiled.stderr


# --- after a second reading -----------------------------------------------------------------------------------------


def test_a_provider_name_that_cannot_be_read_is_an_error_and_only_a_missing_property_is_none():
    # An unread name must not pass for "a provider that comes with Windows", which would let "not found" from an HSM
    # read as a missing key and a software copy be imported over it.
    source = payload_source("private_key_acl")
    method = source[source.index("public static string GetKeyProviderName"):]
    method = method[:method.index("\n        }\n")]
    assert "if (error == CRYPT_E_NOT_FOUND)\n                    {\n                        return null;" in method
    assert method.count("throw Errors.FromCode(") == 2


def test_the_physical_stores_are_read_with_their_archived_copies():
    source = payload_source("ca_certificates")
    opener = source[source.index("private static IntPtr Open(string systemStore"):]
    opener = opener[:opener.index("CertOpenStore(")]
    assert "CERT_STORE_ENUM_ARCHIVED_FLAG" in opener
    assert "CERT_STORE_ENUM_ARCHIVED_FLAG = 0x00000200" in source


def test_a_store_changed_by_an_add_says_so_before_an_archived_copy_is_restored():
    # A restore that fails after the Add must not leave the task reporting an unchanged store.
    add = _function(payload_source("ca_certificates"), "Add-CaCertificate")
    added = add.index("$target.Add(")
    assert added < add.index("$Ansible.Changed = $true", added) < add.index("Restore-ArchivedCertificate -Store", added)
    leaf = _function(payload_source("pfx_import"), "Import-LeafFromPfx")
    added = leaf.index("$leafStore.Add(")
    restore = leaf.index("Restore-ArchivedCertificate -Store", added)
    assert added < leaf.index("$Ansible.Result['imported'] = $true", added) < restore
    assert added < leaf.index("$Ansible.Changed = $true", added) < restore


def test_builtin_written_in_english_is_retried_in_the_localised_builtin_domain():
    resolver = _function(payload_source("user_rights"), "ConvertTo-PrincipalSid")
    assert "$domain -eq 'BUILTIN'" in resolver
