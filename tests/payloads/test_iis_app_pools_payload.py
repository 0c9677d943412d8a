"""The iis_app_pools payload's own text: what the simulator, a model of what the payload means, cannot see.

Each test reads the payload as it reaches the host (fragments inlined) through tree-sitter, and checks one call the
payload must make as Windows documents it.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from winsim import powershell

from ansible_collections.pkiops.keyfactor_command.plugins.plugin_utils._windows_task import payload_source

SOURCE = payload_source("iis_app_pools")


def _nodes(node, kind: str):
    if node.type == kind:
        yield node
    for child in node.children:
        yield from _nodes(child, kind)


def _functions(source: str) -> dict[str, str]:
    """Each function the script defines, by name, as its text."""
    root = powershell.parse(source).root_node
    found = {}
    for function in _nodes(root, "function_statement"):
        name = next(c for c in function.children if c.type == "function_name").text.decode()
        found[name] = function.text.decode()
    return found


FUNCTIONS = _functions(SOURCE)


def _enclosing_if_conditions(source: str, needle: str) -> list[str]:
    """For each occurrence of needle, the condition of the innermost if statement around it ('' when none)."""
    root = powershell.parse(source).root_node
    data = source.encode()
    conditions = []
    for match in re.finditer(re.escape(needle.encode()), data):
        innermost = ""
        for statement in _nodes(root, "if_statement"):
            block = next((c for c in statement.children if c.type == "statement_block"), None)
            if block is not None and block.start_byte <= match.start() < block.end_byte:
                pipeline = next(c for c in statement.children if c.type == "pipeline")
                innermost = pipeline.text.decode()
        conditions.append(innermost)
    return conditions


def _guards(source: str, needle: str) -> list[list[tuple[str, str]]]:
    """For each occurrence of needle, the branches it runs in, outermost first: ("if", condition) in an if's own
    block, ("elseif", its condition), ("else", the if's condition), ("try", "") and ("catch", "")."""
    root = powershell.parse(source).root_node
    data = source.encode()

    def block_of(node):
        return next((c for c in node.children if c.type == "statement_block"), None)

    def condition_of(node):
        return next(c for c in node.children if c.type == "pipeline").text.decode()

    found = []
    for match in re.finditer(re.escape(needle.encode()), data):
        at = match.start()
        branches = []
        for statement in _nodes(root, "if_statement"):
            parts = [("if", condition_of(statement), block_of(statement))]
            for clause in _nodes(statement, "elseif_clause"):
                parts.append(("elseif", condition_of(clause), block_of(clause)))
            for clause in (c for c in statement.children if c.type == "else_clause"):
                parts.append(("else", condition_of(statement), block_of(clause)))
            branches += [(block.start_byte, kind, text) for kind, text, block in parts
                         if block is not None and block.start_byte <= at < block.end_byte]
        for statement in _nodes(root, "try_statement"):
            parts = [("try", block_of(statement))] + [("catch", block_of(c)) for c in _nodes(statement, "catch_clause")]
            branches += [(block.start_byte, kind, "") for kind, block in parts if block.start_byte <= at < block.end_byte]
        found.append([(kind, text) for _start, kind, text in sorted(branches)])
    return found


def test_iis_is_reported_as_not_installed_only_when_test_iis_absent_error_says_so():
    conditions = _enclosing_if_conditions(FUNCTIONS["Invoke-Probe"], "iis_installed = $false")
    assert conditions and all(c.startswith("Test-IisAbsentError") for c in conditions), conditions


def test_microsoft_web_administration_is_loaded_with_assembly_load_whose_not_found_error_is_documented():
    body = FUNCTIONS["Import-WebAdministration"]
    assert "[System.Reflection.Assembly]::Load($script:WebAdministrationAssembly)" in body
    assert "Add-Type" not in body


def test_the_wait_for_a_settled_state_reads_the_pool_afresh_each_time():
    wait = FUNCTIONS["Wait-PoolStateSettled"]
    assert re.search(r"\[string\]\$PoolName", wait) and "ApplicationPool]$Pool" not in wait
    assert "Get-CurrentPoolState -PoolName $PoolName" in wait
    fresh = FUNCTIONS["Get-CurrentPoolState"]
    assert "$manager = Open-ServerManager" in fresh and "$manager.Dispose()" in fresh


def test_every_wait_is_called_with_the_pool_name():
    calls = re.findall(r"Wait-PoolStateSettled\s+(-\w+)", SOURCE)
    assert calls and set(calls) == {"-PoolName"}, calls


def test_the_logon_check_runs_before_the_first_configuration_change():
    apply = FUNCTIONS["Invoke-Apply"]
    assert apply.index("Assert-PoolLogon -Manager $manager") < apply.index("Invoke-ConfigurationStep") < apply.index(
        "$manager.CommitChanges()")


@pytest.mark.parametrize("method", ["TestLogon", "GetGroupSids"])
def test_a_logon_without_a_domain_passes_null_not_an_empty_string(method):
    # PowerShell turns $null into '' for a .NET string parameter; LogonUser wants NULL as the domain of a UPN.
    calls = re.findall(rf"::{method}\(([^\n]*)\)", FUNCTIONS["Assert-PoolLogon"])
    assert len(calls) == 2
    assert any("[NullString]::Value" in call for call in calls)
    assert not any("$null" in call for call in calls)


def test_the_password_reaches_only_the_dotnet_methods():
    check = FUNCTIONS["Assert-PoolLogon"]
    uses = re.findall(r"[^\n]*\$PasswordMap\[[^\n]*", check)
    assert uses and all("::TestLogon(" in line or "::GetGroupSids(" in line for line in uses), uses


def _logon_source() -> str:
    found = re.search(r"\$script:PoolLogonSource = @'\n(.*?)\n'@", SOURCE, re.S)
    assert found, "the payload defines its LogonUser helper in $script:PoolLogonSource"
    return found.group(1)


def test_the_logon_helper_uses_batch_and_service_logons_as_winbase_h_defines_them():
    source = _logon_source()
    assert "LOGON32_LOGON_BATCH = 4;" in source and "LOGON32_LOGON_SERVICE = 5;" in source
    assert "LOGON32_PROVIDER_DEFAULT = 0;" in source
    assert re.search(r"token\.Dispose\(\)", source), "the token LogonUser returns is closed"


@pytest.mark.skipif(shutil.which("mcs") is None, reason="Mono's C# compiler (mono-mcs) is not installed")
def test_the_logon_helper_compiles_as_csharp_5(tmp_path):
    (tmp_path / "PoolLogon.cs").write_text(_logon_source(), encoding="utf-8")
    compiled = subprocess.run(["mcs", "-langversion:5", "-target:library", "-out:" + str(tmp_path / "PoolLogon.dll"),
                               str(tmp_path / "PoolLogon.cs")], capture_output=True, text=True, check=False)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


# --- the logon check as WAS's logon will meet it --------------------------------------------------------------------


def _csharp_method(name: str) -> str:
    """A static method of the logon helper, from its declaration to its closing brace."""
    source = _logon_source()
    start = re.search(rf"static [\w\[\]]+ {name}\(", source).start()
    return source[start:source.index("\n        }\n", start)]


def test_the_groups_are_read_from_a_network_logons_token_without_its_logon_sid():
    # winbase.h: LOGON32_LOGON_NETWORK 3; winnt.h: TokenGroups is the second TOKEN_INFORMATION_CLASS, and
    # SE_GROUP_LOGON_ID marks the logon SID, which names the logon session rather than a group.
    source = _logon_source()
    assert "LOGON32_LOGON_NETWORK = 3;" in source and "TokenGroups = 2;" in source
    assert "SE_GROUP_LOGON_ID = 0xC0000000;" in source
    reader = _csharp_method("GetGroupSids")
    assert "LogonUser(userName, domain, password, LOGON32_LOGON_NETWORK," in reader
    assert "if (error != 0)\n                {\n                    return null;" in reader
    groups = _csharp_method("ReadGroupSids")
    assert "GetTokenInformation(token, TokenGroups," in groups
    assert "(entry.Attributes & SE_GROUP_LOGON_ID) == SE_GROUP_LOGON_ID" in groups
    assert 'Marshal.OffsetOf(typeof(TOKEN_GROUPS), "Groups")' in groups


def test_iis_iusrs_turns_a_refused_logon_into_a_pass_only_when_no_sid_of_the_token_is_denied():
    check = FUNCTIONS["Assert-PoolLogon"]
    (passes,) = [branches for branches in _guards(check, "$code = 0") if branches]
    assert passes[-1] == ("if", "-not $denied"), passes
    assert ("elseif", "$code -eq 1385 -and $iisUsersRights -contains $setting.Right") in passes
    (denials,) = _guards(check, "$denied = $true")
    assert denials[-1] == ("if", "(Get-PrincipalRight -PoolName $step.Pool -Sid $tokenSid) -contains $setting.DenyRight")
    # The SIDs checked: the account, the logon type's group, and each group of the network logon's token but NETWORK.
    assert "$tokenSids.Add($accountSid)" in check
    assert "$tokenSids.Add([System.Security.Principal.SecurityIdentifier]::new($setting.LogonTypeSid))" in check
    (groups,) = _guards(check, "$tokenSids.Add($groupSid)")
    assert groups[-1] == ("if", "$groupSid.Value -ne $script:NetworkLogonSid") and ("else", "$null -eq $groupSids") in groups
    assert "$script:NetworkLogonSid = 'S-1-5-2'" in SOURCE


def test_a_denial_held_by_iis_iusrs_refuses_even_a_logon_that_succeeded():
    (refusal,) = _guards(FUNCTIONS["Assert-PoolLogon"], "$code = 1385")
    assert refusal[-1] == ("if", "$iisUsersRights -contains $setting.DenyRight")
    outer = [text for kind, text in refusal if kind == "if"]
    assert "-not $setting.ManualGroupMembership -and ($code -eq 0 -or $code -eq 1385)" in outer, refusal


def test_an_account_whose_groups_cannot_be_read_is_warned_about():
    (warning,) = _guards(FUNCTIONS["Assert-PoolLogon"], "Write-Warning")
    assert warning[-1] == ("if", "$null -eq $groupSids")


@pytest.mark.parametrize("logon_type, sid", [("LOGON32_LOGON_BATCH", "S-1-5-3"), ("LOGON32_LOGON_SERVICE", "S-1-5-6")])
def test_each_logon_type_names_the_group_its_token_gets(logon_type, sid):
    setting = FUNCTIONS["Get-PoolLogonSetting"]
    assert re.search(rf"::{logon_type}\n\s*# [^\n]*\n\s*LogonTypeSid = '{sid}'", setting)


def test_the_refusal_names_iis_iusrs_only_where_was_adds_it():
    error = FUNCTIONS["New-PoolLogonError"]
    assert "$viaIisUsers = -not $Setting.ManualGroupMembership" in error
    (via,) = _guards(error, "or through BUILTIN\\IIS_IUSRS")
    assert via[-1] == ("if", "$viaIisUsers")
    (manual,) = _guards(error, "BUILTIN\\IIS_IUSRS does not count")
    assert manual[-1] == ("else", "$viaIisUsers")
    assert error.count("one of its groups") == 2 and error.count("is denied that logon ('{1}')") == 2
    assert "-Setting $setting" in FUNCTIONS["Assert-PoolLogon"]


def test_no_account_is_logged_on_for_a_step_should_process_declined():
    apply = FUNCTIONS["Invoke-Apply"]
    assert apply.index("Confirm-ConfigurationStep -Manager $manager") < apply.index("Assert-PoolLogon -Manager $manager")
    assert "if (-not $step.Approved -or " in FUNCTIONS["Assert-PoolLogon"]
    # ShouldProcess decides before the logon check, and the change is made only once it has agreed.
    assert "ShouldProcess" not in FUNCTIONS["Invoke-ConfigurationStep"]
    (approved,) = _guards(FUNCTIONS["Confirm-ConfigurationStep"], "$Step.Approved = $true")
    assert approved[-1] == ("if", "$Cmdlet.ShouldProcess($target, $verb)")
    assert "if (-not $Step.Approved) {\n        return $false" in FUNCTIONS["Invoke-ConfigurationStep"]


def test_the_logon_type_is_read_without_falling_back_to_a_batch_logon():
    setting = FUNCTIONS["Get-PoolLogonSetting"]
    for name in ("logonType", "manualGroupMembership"):
        (reads,) = _guards(setting, f"GetAttributeValue('{name}')")
        assert reads == [("try", "")]
    catches = re.findall(r"catch \{\n(.*?)\n    \}", setting, re.S)
    assert catches and all(c.strip().startswith("throw (New-ContextException") for c in catches), catches


def test_a_configuration_that_cannot_be_read_while_polling_reads_as_unknown():
    fresh = FUNCTIONS["Get-CurrentPoolState"]
    (opening,) = _guards(fresh, "Open-ServerManager")
    assert opening == [("try", "")]
    catch = re.search(r"\$manager = Open-ServerManager\n    \}\n    catch \{\n(.*?)\n    \}", fresh, re.S)
    assert catch and catch.group(1).strip().endswith("return 'Unknown'")


def test_any_refused_network_logon_leaves_the_groups_unread_rather_than_failing_the_pool():
    # The network logon only serves to read the groups; a network logon denied or restricted by policy must not fail a
    # pool whose batch or service logon Windows accepts.
    source = payload_source("iis_app_pools")
    method = source[source.index("public static SecurityIdentifier[] GetGroupSids"):]
    method = method[:method.index("private static SecurityIdentifier[] ReadGroupSids")]
    assert "throw new Win32Exception(error)" not in method
    assert "if (error != 0)" in method and "return null;" in method


def test_a_pool_that_never_settles_names_why_its_configuration_could_not_be_read():
    functions = _functions(payload_source("iis_app_pools"))
    assert "$script:LastPoolStateError = (Get-UnderlyingException -ErrorRecord $_).Message" in functions["Get-CurrentPoolState"]
    assert "$script:LastPoolStateError = $null" in functions["Wait-PoolStateSettled"]
    assert "$script:LastPoolStateError" in functions["Invoke-RuntimeStep"]
