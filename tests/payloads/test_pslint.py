"""Each rule of the PowerShell lint (tests/pslint) catches its deliberately broken snippet and passes correct code.

The snippets run against the small catalogue in tests/payloads/pslint_fixtures/, so that these tests do not depend
on the checked-in catalogue; test_pslint_payloads.py lints the payloads with the real one.
"""

from __future__ import annotations

import json
import pathlib
import textwrap

import pytest

import pslint
from pslint import csharp
from pslint.catalogue import Catalogue

FIXTURES = pathlib.Path(__file__).resolve().parent / "pslint_fixtures"
CATALOGUE = Catalogue.from_data(
    json.loads((FIXTURES / "cmdlets.json").read_text(encoding="utf-8")),
    json.loads((FIXTURES / "types.json").read_text(encoding="utf-8")),
)


def findings(source: str, *rules: str) -> list[pslint.Finding]:
    return pslint.lint(textwrap.dedent(source).strip("\n") + "\n", catalogue=CATALOGUE, rules=rules or None)


def rules_of(source: str, *rules: str) -> list[tuple[int, str]]:
    return [(finding.line, finding.rule) for finding in findings(source, *rules)]


def assert_clean(source: str, *rules: str) -> None:
    found = findings(source, *rules)
    assert found == [], "\n".join(str(finding) for finding in found)


# --- type-constrained-assignment ---------------------------------------------------------------------------


STORE_BUG = """
function Import-PfxContent {
    param(
        [Parameter(Mandatory)]
        [string]$Store,

        [Parameter(Mandatory)]
        [System.Security.Cryptography.X509Certificates.X509Certificate2]$Leaf
    )

    $store = Open-LocalMachineStore -Name $Store -ForWrite -CreateMissing
    try {
        $store.Add($Leaf)
    }
    finally {
        $store.Close()
    }
}
"""


def test_the_store_bug_is_caught():
    found = findings(STORE_BUG, "type-constrained-assignment")
    assert [(finding.line, finding.column) for finding in found] == [(10, 5)]
    assert "$store" in found[0].message and "[string] parameter $Store" in found[0].message
    assert "ignore case" in found[0].message


def test_the_store_fix_passes():
    assert_clean(STORE_BUG.replace("$store", "$certificateStore"), "type-constrained-assignment")


@pytest.mark.parametrize(
    "assignment",
    [
        "$count += 1",
        "$COUNT = 'many'",
        "foreach ($count in 1..3) { }",
        "$count++",
        "--$count",
        "[void][int]::TryParse('3', [ref]$count)",
        "Get-ChildItem -Path . -OutVariable count",
        "Get-ChildItem -Path . -ErrorVariable:count",
        "@(1) | ForEach-Object { $count = $_ }",
    ],
)
def test_every_kind_of_assignment_to_a_typed_parameter_is_caught(assignment):
    source = f"""
    function Measure-Thing {{
        param([int]$Count)
        {assignment}
    }}
    """
    assert rules_of(source, "type-constrained-assignment") == [(3, "type-constrained-assignment")]


def test_a_typed_variable_keeps_its_type_for_later_assignments():
    source = """
    [string]$label = 'first'
    $Label = Get-Item -Path .
    """
    assert rules_of(source, "type-constrained-assignment") == [(2, "type-constrained-assignment")]


def test_a_validated_parameter_is_constrained_too():
    source = """
    function Set-Mode {
        param([ValidateSet('probe', 'apply')]$Mode)
        $mode = 'other'
    }
    """
    found = findings(source, "type-constrained-assignment")
    assert [finding.line for finding in found] == [3]
    assert "must pass [ValidateSet()]" in found[0].message


def test_script_qualified_assignment_in_a_function_meets_the_script_parameter():
    source = """
    param([string]$Mode)
    function Reset-Mode {
        $script:mode = 42
    }
    """
    assert rules_of(source, "type-constrained-assignment") == [(3, "type-constrained-assignment")]


def test_assignments_that_touch_no_constrained_name_pass():
    assert_clean(
        """
        param([string]$Store, [object]$Anything)
        function Open-Store {
            param([string]$Name)
            # Another function's scope: its own variable, whatever the script's parameter is called.
            $store = [System.Security.Cryptography.X509Certificates.X509Store]::new($Name)
            $store
        }
        function Get-Anything {
            # A child scope gets a new local variable; the parameter of the caller is not touched.
            & { $Store = 5; $Store }
        }
        $Anything = 'an [object] constraint converts nothing'
        $settings = @{ Store = 'a hashtable key is not a variable' }
        $settings.Store = 'nor is a member'
        [System.Security.Cryptography.X509Certificates.X509Store]$store = Open-Store -Name $Store
        """,
        "type-constrained-assignment",
    )


# --- undefined-variable -----------------------------------------------------------------------------------------


def test_a_read_of_a_variable_nothing_assigns_is_caught():
    source = """
    function Get-Total {
        param([int[]]$Values)
        $sum = 0
        foreach ($value in $Values) { $sum += $value }
        $total
    }
    """
    found = findings(source, "undefined-variable")
    assert [(finding.line, finding.column) for finding in found] == [(5, 5)]
    assert "$total" in found[0].message


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("$x = $x + 1", 2),  # read before the first assignment
        ("$first\n$first = 1", 2),
        ("& { $inner = 1 }\n$inner", 3),  # a child scope's variable
        ("[void][int]::TryParse('1', [ref]$parsed)", 2),  # [ref] needs the variable to exist
        ("$_", 2),  # outside any pipeline, catch or switch
        ("$script:neverAssigned", 2),
        ("Invoke-Command -ScriptBlock { $using:notThere }", 2),
        ("Get-ChildItem -Path . @parameters", 2),  # splatting reads the variable
        ('"value: $missing"', 2),  # expandable strings read
        ('@"\n${missing}\n"@', 3),
    ],
)
def test_undefined_reads_are_caught(body, line):
    source = "function Test-Read {\n" + textwrap.indent(body, "    ") + "\n}"
    assert rules_of(source, "undefined-variable") == [(line, "undefined-variable")]


def test_a_function_does_not_see_what_only_its_caller_defines():
    source = """
    function Write-Label {
        Write-Output $label
    }
    function Invoke-Caller {
        $label = 'set by the caller'
        Write-Label
    }
    """
    assert rules_of(source, "undefined-variable") == [(2, "undefined-variable")]


def test_a_class_method_sees_only_its_own_variables():
    source = """
    class Counter {
        [int]$Count
        [int] Next([int]$step) {
            $local = $step
            return $script:Start + $this.Count + $local + $outside
        }
    }
    $Start = 1
    $outside = 2
    """
    found = findings(source, "undefined-variable")
    assert [(finding.line, finding.column) for finding in found] == [(5, 55)]
    assert "$outside" in found[0].message and "class method" in found[0].message


def test_pester_setup_blocks_assign_in_the_describe_block_around_them():
    assert_clean(
        """
        Describe 'pfx_import' {
            BeforeAll {
                $payload = Join-Path -Path $PSScriptRoot -ChildPath 'pfx_import.ps1'
            }
            BeforeEach {
                $store = 'My'
            }
            It 'reads the store' {
                $payload | Should -Not -BeNullOrEmpty
                $store | Should -Be 'My'
            }
        }
        """,
        "undefined-variable",
    )


def test_correct_reads_pass():
    assert_clean(
        """
        [CmdletBinding(SupportsShouldProcess)]
        param([string]$Mode)
        $ErrorActionPreference = 'Stop'

        function Read-Settings {
            # Script-scope variables, wherever the script assigns them (the function runs later).
            Write-Output $Mode $later $script:cache $Ansible.Result
            Write-Output $env:COMPUTERNAME ${env:ProgramFiles(x86)} $PSVersionTable $PSCmdlet $MyInvocation
        }
        function Get-Names {
            param([object[]]$Items, [string]$Pattern)
            $names = @($Items | Where-Object { $_.Name -like $Pattern } | ForEach-Object { $PSItem.Name })
            $Items | ForEach-Object { $last = $_ }
            $Items.Where({ $each = $_ })
            . { $dotSourced = 1 }
            Write-Output $last $each $dotSourced
            try {
                $null = [System.IO.Path]::GetFullPath($Pattern)
            }
            catch {
                Write-Warning -Message $_.Exception.Message
            }
            switch ($Pattern) {
                'a' { Write-Output $_ }
                default { }
            }
            $parameters = @{ Path = '.'; $Pattern = 'a key that is a variable is a read, of a parameter here' }
            Get-ChildItem @parameters
            Write-Output '$notARead in single quotes'
            Write-Output @'
        $notARead either, in a verbatim here-string
        '@
            ${braced name} = 1
            Write-Output ${braced name} "$names $($names.Count) ${names}"
            Get-ChildItem -Path . -OutVariable found -ErrorVariable failures
            Write-Output $found $failures
            Set-Variable -Name fromSetVariable -Value 1
            Write-Output $fromSetVariable
            for ($i = 0; $i -lt 3; $i++) { Write-Output $i }
            $block = { param($value); $value * 2 }
            & $block 3
            function Get-Nested { Write-Output $names }
            Get-Nested
            [int]$parsed = 0
            [void][int]::TryParse('7', [ref]$parsed)
            # $using: reads the enclosing scope's variable into a remote or job script block.
            Invoke-Command -ComputerName other -ScriptBlock { Write-Output $using:names $global:Ansible }
            $matched = 'abc' -match 'b'
            Write-Output $matched $Matches $LASTEXITCODE $args $input $true $false $null $?
        }
        function Write-Each {
            param([Parameter(ValueFromPipeline)][ValidateScript({ $_ -ne $null })][object]$Item)
            process { Write-Output $_ }
        }
        $script:cache = @{}
        $later = 1
        Read-Settings
        """,
        "undefined-variable",
    )


# --- unknown-command and unknown-parameter -----------------------------------------------------------------------


def test_a_misspelt_cmdlet_is_caught_with_a_hint():
    found = findings("Get-ChildItems -Path .", "unknown-command")
    assert [finding.rule for finding in found] == ["unknown-command"]
    assert "Get-ChildItems" in found[0].message and "did you mean Get-ChildItem?" in found[0].message


@pytest.mark.parametrize("alias", ["%", "?", "select", "gci", "sc"])
def test_aliases_are_unknown_commands(alias):
    source = f"@(1) | {alias} {{ $_ }}" if alias in "%?" else f"{alias} -Path ."
    assert [finding.rule for finding in findings(source, "unknown-command")] == ["unknown-command"]


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("Get-ChildItem -Pth .", "Get-ChildItem has no parameter -Pth"),
        ("Get-ChildItem -Recur", "-Recur abbreviates -Recurse"),
        ("Get-ChildItem -F x", "-F is ambiguous"),
        ("Get-ChildItem -Path . -WhatIf", "has no parameter -WhatIf"),  # not SupportsShouldProcess
        ("Get-ChildItem -Path . -ProgressAction SilentlyContinue", "has no parameter -ProgressAction"),
        ("Get-Service -Name:$null -ComputerNam x", "abbreviates -ComputerName"),
    ],
)
def test_wrong_cmdlet_parameters_are_caught(command, message):
    found = findings(command, "unknown-parameter")
    assert len(found) == 1 and message in found[0].message, found


def test_function_parameters_are_checked_against_its_param_block():
    source = """
    function Open-LocalMachineStore {
        param([Parameter(Mandatory)][string]$Name, [switch]$ForWrite)
        Write-Output $Name $ForWrite
    }
    function Get-Plain {
        param($Value)
        Write-Output $Value
    }
    Open-LocalMachineStore -Name My -ForWrite -CreateMissing
    Open-LocalMachineStore -Name My -ErrorAction Stop
    Get-Plain -Value 1 -ErrorAction Stop
    Open-LocalMachineStore -Name My -WhatIf
    """
    found = findings(source, "unknown-parameter")
    assert [(finding.line, finding.message.split(":")[0]) for finding in found] == [
        (9, "function Open-LocalMachineStore has no parameter -CreateMissing"),
        (11, "function Get-Plain has no parameter -ErrorAction"),  # not an advanced function
        (12, "function Open-LocalMachineStore has no parameter -WhatIf"),  # no SupportsShouldProcess
    ]


def test_splatted_keys_are_parameters_too():
    source = """
    $parameters = @{ Path = '.'; Recurse = $true }
    $parameters['Filtr'] = '*.ps1'
    Get-ChildItem @parameters
    """
    found = findings(source, "unknown-parameter")
    assert [(finding.line, finding.rule) for finding in found] == [(2, "unknown-parameter")]
    assert "Filtr" in found[0].message


def test_a_scope_qualified_function_is_called_by_its_bare_name():
    assert_clean("function script:Get-Answer { 42 }\nGet-Answer", "unknown-command")


def test_a_function_called_before_its_definition_is_caught():
    source = """
    Invoke-Early
    function Invoke-Early { }
    """
    found = findings(source, "unknown-command")
    assert [finding.line for finding in found] == [1] and "before its definition" in found[0].message


def test_correct_commands_pass():
    assert_clean(
        """
        using namespace System.Collections.Generic
        function Invoke-Apply {
            [CmdletBinding(SupportsShouldProcess)]
            param(
                [Parameter(Mandatory)]
                [Alias('StoreName')]
                [string]$Name,

                [switch]$Force
            )
            Invoke-Later -Value $Name  # defined further down: it exists by the time this runs
            if ($PSCmdlet.ShouldProcess($Name)) { Write-Output $Force }
        }
        function Invoke-Later { param($Value); $Value }
        Invoke-Apply -StoreName My -Force:$true -WhatIf -Confirm:$false -ErrorAction Stop -ev failures -Verbose
        Get-ChildItem -LiteralPath . -Recurse -Filter '*.ps1' -- -NotAParameter
        Get-ChildItem -PSPath . -ErrorAction SilentlyContinue -OutVariable items
        Write-Output $items $failures
        1..3 | ForEach-Object -Process { $_ } | Where-Object { $_ -gt 1 } | Sort-Object -Descending
        icacls.exe C:\\Temp /grant 'Users:(R)'
        & $env:SystemRoot\\System32\\whoami.exe /all
        $block = { param($Value); $Value }
        & $block -Value 1
        $splat = @{ Path = '.'; Recurse = $true; ErrorAction = 'Stop' }
        Get-ChildItem @splat
        Import-Module -Name FailoverClusters
        Get-ClusterResource -Name 'Cluster IP Address'
        """,
        "unknown-command",
        "unknown-parameter",
    )


# --- unknown-type, unknown-member, constructor-arity, assembly-not-loaded --------------------------------------


@pytest.mark.parametrize(
    ("snippet", "rule", "message"),
    [
        ("[System.Text.StringBuildr]::new()", "unknown-type", "[System.Text.StringBuildr] is not"),
        ("$x = 1 -as [Sytem.Int32]", "unknown-type", "[Sytem.Int32]"),
        ("[List[string]]::new()", "unknown-type", "needs its namespace"),
        ("function F { param([Parametr(Mandatory)][string]$Name); $Name }", "unknown-type", "[Parametr(...)]"),
        ("[System.Math]::Clamp(5, 1, 3)", "unknown-member", "no public static member Clamp"),  # .NET Core only
        ("[string]::Create(3, 0, $null)", "unknown-member", "no public static member Create"),
        ("[System.StringComparison]::IgnoreCase", "unknown-member", "no public static member IgnoreCase"),
        ("[System.Text.StringBuilder]::new(1, 2, 3, 4, 5)", "constructor-arity", "given 5 argument(s)"),
        ("[System.IO.Stream]::new()", "constructor-arity", "no public constructor"),
        ("[System.IO.StringReader]::new()", "constructor-arity", "its public constructors take 1"),
        ("[System.IDisposable]::new()", "constructor-arity", "it is an interface"),
        ("enum Colour { Red; Green }\n[Colour]::Blue", "unknown-member", "has no value Blue"),
        (
            "Add-Type -AssemblyName Microsoft.Web.Administration\n"
            "[Microsoft.Web.Administration.ServerManager]::new(1, 2, 3)",
            "constructor-arity",
            "take 0, 1",
        ),
        ("function F { param([Parameter(Mandatori)][string]$N); $N }", "unknown-member", "Mandatori is not"),
        (
            "[System.Security.Cryptography.Pkcs.SignedCms]::new()",
            "assembly-not-loaded",
            "Add-Type -AssemblyName System.Security",
        ),
        (
            "[Microsoft.Web.Administration.ServerManager]::new()",
            "assembly-not-loaded",
            "Add-Type -AssemblyName Microsoft.Web.Administration",
        ),
    ],
)
def test_broken_type_uses_are_caught(snippet, rule, message):
    found = findings(snippet, "unknown-type", "unknown-member", "constructor-arity", "assembly-not-loaded")
    assert [finding.rule for finding in found] == [rule] and message in found[0].message, found


def test_constructor_arity_counts_optional_parameters_and_params_arrays():
    source = """
    Add-Type -TypeDefinition @'
    namespace Fixture.Arity
    {
        public sealed class Optional { public Optional(int first, int second = 2) { } }
        public sealed class Many { public Many(string name, params int[] values) { } }
    }
    '@
    $fine = @([Fixture.Arity.Optional]::new(1), [Fixture.Arity.Many]::new('a', 1, 2, 3, 4))
    $tooMany = [Fixture.Arity.Optional]::new(1, 2, 3)
    $tooFew = [Fixture.Arity.Many]::new()
    """
    found = findings(source, "constructor-arity")
    assert [(finding.line, finding.rule) for finding in found] == [(9, "constructor-arity"), (10, "constructor-arity")]
    assert "take 1 to 2" in found[0].message and "take 1 or more" in found[1].message


def test_correct_type_uses_pass():
    assert_clean(
        """
        using namespace System.Collections.Generic
        Add-Type -AssemblyName System.Security
        $assemblyName = 'System.ServiceProcess, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b03f5f7f11d50a3a'
        Add-Type -AssemblyName $assemblyName
        Add-Type -TypeDefinition @'
        namespace Fixture.Native
        {
            public static class Calls
            {
                public static int Twice(int value) { return value * 2; }
            }
            public enum Access : uint { Read = 1, Write = 2 }
            public sealed class Holder
            {
                public Holder(string name, params int[] values) { }
            }
            public sealed class Optional
            {
                public Optional(int first, int second = 2) { }
            }
        }
        '@
        enum Colour { Red; Green }
        class Palette { [string]$Name }
        function Test-Types {
            [CmdletBinding()]
            param(
                [Parameter(Mandatory, Position = 0, ValueFromPipeline = $true)]
                [ValidateSet('a', 'b')]
                [AllowNull()]
                [System.Collections.IDictionary]$Table,

                [Obsolete('attributes resolve with or without the Attribute suffix')]
                [Text.StringBuilder]$Builder
            )
            $list = [List[string]]::new()
            $comparer = [System.StringComparer]::OrdinalIgnoreCase
            $map = [System.Collections.Generic.Dictionary[string, object]]::new($comparer)
            $set = [System.Collections.Generic.HashSet[string]]::new()
            $bytes = [byte[]]::new(16)
            $guid = [System.Guid]::new()
            $ignoreCase = [StringComparison]::OrdinalIgnoreCase
            $text = [system.string]::isnullorempty('') -and [string]::Equals('a', 'A', $ignoreCase)
            $nested = [System.Environment]::SpecialFolder
            $rsa = [System.Security.Cryptography.RSA]::Create()
            $cms = [System.Security.Cryptography.Pkcs.SignedCms]::new()
            $services = [System.ServiceProcess.ServiceController]::GetServices()
            $ordered = [ordered]@{ a = 1 }
            $custom = [pscustomobject]@{ Name = 'x' }
            $twice = [Fixture.Native.Calls]::Twice(2)
            $access = [Fixture.Native.Access]::Read -bor [Fixture.Native.Access]::Write
            $holder = [Fixture.Native.Holder]::new('name', 1, 2, 3)
            $holderEmpty = [Fixture.Native.Holder]::new('name')
            $optional = @([Fixture.Native.Optional]::new(1), [Fixture.Native.Optional]::new(1, 2))
            $colour = [Colour]::Red -or [Colour]::GetNames([Colour])
            $palette = [Palette]::new()
            $encoding = [System.Text.UTF8Encoding]::new($false)
            $null = [System.Management.Automation.PSObject]::AsPSObject($custom)
            if ($Table -is [hashtable] -or $Table -isnot [System.Collections.Specialized.OrderedDictionary]) { }
            try { } catch [System.IO.IOException], [System.UnauthorizedAccessException] { }
            [void]$list.Add('x')
            Write-Output $map $set $bytes $guid $text $nested $rsa $cms $services $ordered $twice $access
            Write-Output $holder $holderEmpty $optional $colour $palette $encoding
        }
        """,
        "unknown-type",
        "unknown-member",
        "constructor-arity",
        "assembly-not-loaded",
    )


# --- newer-syntax ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snippet", "named"),
    [
        ("$a = $b ? 1 : 2", "ternary operator"),
        ("$a = $b ?? 'default'", "null-coalescing operator ??"),
        ("$a ??= 'default'", "null-coalescing assignment operator ??="),
        ("${a}?.Length", "null-conditional member access ?."),
        ("${a}?[0]", "null-conditional index ?[]"),
        ("Get-Item -Path . && Write-Output ok", "pipeline chain operator &&"),
        ("Get-Item -Path . || Write-Output failed", "pipeline chain operator ||"),
        ("1..3 | ForEach-Object -Parallel { $_ }", "ForEach-Object -Parallel"),
        ("1..3 | ForEach-Object -ThrottleLimit 2 -Process { $_ }", "ForEach-Object -ThrottleLimit"),
        ("function F {\n    process { }\n    clean { }\n}", "clean { } block"),
        ("function F {\n    clean { Write-Output 1 }\n}", "clean { } block"),
        ('$s = "a`u{2195}b"', "Unicode escape"),
        ('$s = "`e[0m"', "escape `e"),
        ("$n = 0b1010", "numeric literal 0b1010"),
        ("$n = 5u", "numeric literal 5u"),
        ("$n = 1 + 2uy", "numeric literal suffix 'uy'"),
        ("$letters = 'a'..'z'", "character range"),
        ("$x = 'abc' -replace 'b', { $_.Value.ToUpper() }", "-replace with a script block"),
        ("Start-Job -ScriptBlock { 1 } &", "background operator &"),
        ("foreach -parallel ($a in $b) { }", "workflow syntax"),
        ("if ($IsWindows) { }", "automatic variable $IsWindows"),
        ("Write-Output $PSStyle", "automatic variable $PSStyle"),
        ("function F { param([ValidateSet('a', ErrorMessage = 'no')]$P); $P }", "ErrorMessage"),
        ("function F { param([ValidateRange('Positive')][int]$P); $P }", "ValidateRangeKind"),
        ("Get-Item -Path . -ProgressAction SilentlyContinue", "-ProgressAction"),
    ],
)
def test_newer_syntax_is_named(snippet, named):
    found = findings(snippet, "newer-syntax", "syntax-error")
    assert [finding.rule for finding in found] == ["newer-syntax"], found
    assert named in found[0].message


def test_other_syntax_errors_are_reported_as_such():
    found = findings("if ($ready {\n    Write-Output 1\n}", "newer-syntax", "syntax-error")
    assert found and {finding.rule for finding in found} == {"syntax-error"}, found


def test_windows_powershell_51_syntax_passes():
    assert_clean(
        """
        $a = if ($b) { 1 } else { 2 }
        $c = if ($null -eq $b) { 'default' } else { $b }
        Get-Item -Path .; if ($?) { Write-Output 'ok' }
        1..3 | ForEach-Object -Process { $_ } -End { 'done' }
        foreach ($item in 1..3) { $item }
        $s = "tab`t newline`n quote`" dollar`$ ${a}?"
        $t = 'a ? b : c ?? d && e || f ?. g'
        $u = @'
        $x ?? $y && `u{41}
        '@
        # $x ?? 'a comment' && `u{41}
        $n = 0x1F + 5d + 1kb + 3l
        $r = 'abc' -replace 'b', 'B'
        $range = 1..10
        function F {
            param([ValidateRange(1, 10)][int]$P)
            begin { } process { } end { }
        }
        """,
        "newer-syntax",
        "syntax-error",
    )


# --- csharp5 -----------------------------------------------------------------------------------------------------


CSHARP6 = {
    "string interpolation": 'public static string F(int x) { return $"{x}"; }',
    "null-conditional": "public static int? F(string s) { return s?.Length; }",
    "nameof": "public static string F(int x) { return nameof(x); }",
    "expression-bodied member": "public static int F(int x) => x;",
    "auto-property initialiser": "public int P { get; set; } = 3;",
    "using static": None,
    "exception filter": "public static void F() { try { } catch (System.Exception e) when (e != null) { } }",
}


@pytest.mark.parametrize("feature", sorted(CSHARP6))
def test_csharp6_features_do_not_compile(feature):
    member = CSHARP6[feature]
    if member is None:
        source = (
            "using static System.Math;\n"
            "namespace Fixture { public static class C { public static double F() { return PI; } } }"
        )
    else:
        source = f"namespace Fixture {{ public class C {{ {member} }} }}"
    problems = csharp.compile_problems(source)
    assert problems and "C# 5.0" in " ".join(problems), problems


def test_csharp5_code_with_its_references_compiles():
    source = textwrap.dedent("""
        using System;
        using System.Security.Cryptography.Pkcs;
        using System.Linq;
        namespace Fixture
        {
            public static class Envelope
            {
                public static int Count(byte[] data)
                {
                    var cms = new SignedCms();
                    cms.Decode(data);
                    return cms.Certificates.Cast<object>().Count();
                }
            }
        }
        """)
    assert csharp.compile_problems(source, ["System.Security"]) == []
    # Without the reference the Pkcs namespace is not there, as on Windows.
    assert any("CS0234" in problem for problem in csharp.compile_problems(source))


def test_compiler_warnings_fail_unless_ignored():
    source = "namespace Fixture { public static class C { public static void F() { int unused; } } }"
    assert any("warning CS0168" in problem for problem in csharp.compile_problems(source))
    assert csharp.compile_problems(source, ignore_warnings=True) == []


def test_system_management_automation_cannot_be_checked_here():
    source = "using System.Management.Automation;\nnamespace Fixture { public class C { public PSObject P; } }"
    (problem,) = csharp.compile_problems(source)
    assert "System.Management.Automation" in problem


def test_add_type_blocks_in_a_script_are_linted_at_their_lines():
    source = """
    $source = @'
    namespace Fixture
    {
        public static class Broken
        {
            public static string Name(int x) { return $"{x}"; }
        }
    }
    '@
    Add-Type -TypeDefinition $source
    Add-Type -TypeDefinition 'namespace Fixture { public static class Fine { } }'
    Add-Type -AssemblyName System.Security
    """
    found = findings(source, "csharp5")
    assert [(finding.line, finding.rule) for finding in found] == [(6, "csharp5")]
    assert "interpolated strings" in found[0].message


def test_an_add_type_source_the_lint_cannot_read_is_reported():
    found = findings("Add-Type -TypeDefinition (Get-Content -Path x.cs -Raw)", "csharp5")
    assert [finding.rule for finding in found] == ["csharp5"] and "not a literal" in found[0].message


# --- secret-taint ------------------------------------------------------------------------------------------------


PLAIN = """
param([System.Security.SecureString]$Secure)
$plain = [System.Net.NetworkCredential]::new('', $Secure).Password
"""


@pytest.mark.parametrize(
    ("snippet", "line", "message"),
    [
        pytest.param(
            PLAIN + "$again = ConvertTo-SecureString -String $plain -AsPlainText -Force",
            3,
            "$plain (derived from $Secure) reaches the arguments of ConvertTo-SecureString; "
            "module logging (event 4103) would record it",
            id="cmdlet-argument",
        ),
        pytest.param(
            PLAIN + "$again = $plain | ConvertTo-SecureString -AsPlainText -Force",
            3,
            "$plain (derived from $Secure) reaches the pipeline input of ConvertTo-SecureString",
            id="pipeline-input",
        ),
        pytest.param(
            PLAIN + 'Write-Warning "bad $plain"',
            3,
            "$plain (derived from $Secure) reaches the arguments of Write-Warning",
            id="expandable-string-argument",
        ),
        pytest.param(
            PLAIN + "$Ansible.Result.pw = $plain",
            3,
            "$plain (derived from $Secure) reaches $Ansible.Result.pw, which goes back to the controller",
            id="ansible-result",
        ),
        pytest.param(
            PLAIN + "$Ansible.Result.Add('pw', $plain.Substring(1))",
            3,
            "$plain (derived from $Secure) reaches $Ansible.Result.Add()",
            id="ansible-result-method",
        ),
        pytest.param(
            PLAIN + "$text = '{0}' -f $plain",
            3,
            "$plain (derived from $Secure) reaches an operand of -f, which builds text",
            id="format-operator",
        ),
        pytest.param(
            PLAIN + '$text = "length $($plain.Length)"',
            3,
            "$plain (derived from $Secure) reaches an expandable string",
            id="sub-expression-in-string",
        ),
        pytest.param(
            PLAIN + '$body = @"\n<password>$plain</password>\n"@',
            4,
            "$plain (derived from $Secure) reaches an expandable string",
            id="here-string",
        ),
        pytest.param(
            PLAIN + "throw $plain",
            3,
            "$plain (derived from $Secure) is thrown",
            id="throw",
        ),
        pytest.param(
            PLAIN + "cmdkey.exe /generic:server /user:admin /pass:$plain",
            3,
            "$plain (derived from $Secure) reaches the command line of cmdkey.exe; process creation auditing",
            id="native-program",
        ),
        pytest.param(
            PLAIN + "$block = { param($Value) $Value }\n& $block $plain",
            4,
            "$plain (derived from $Secure) reaches the arguments of & $block",
            id="call-operator",
        ),
        pytest.param(
            PLAIN + "$block = [scriptblock]::Create($text)\n$block = { param($Value) $Value }\n& $block $plain",
            5,
            "$plain (derived from $Secure) reaches the arguments of & $block",
            id="call-operator-on-a-block-not-only-compiled",
        ),
        pytest.param(
            PLAIN + "$options = @{ Name = 'svc'; Password = $plain }\nNew-LocalUser @options",
            4,
            "@options (derived from $Secure) reaches the arguments of New-LocalUser",
            id="splatted-hashtable",
        ),
        pytest.param(
            PLAIN + "$plain",
            3,
            "$plain (derived from $Secure) is output by the script, which win_powershell returns to the controller",
            id="script-output",
        ),
        pytest.param(
            """
            # pslint-secret: $raw, $other
            $raw = [System.Console]::In.ReadLine()
            Set-Variable -Name copy -Value $raw
            """,
            3,
            "$raw (secret: declared by # pslint-secret) reaches the arguments of Set-Variable",
            id="declared-by-comment",
        ),
        pytest.param(
            """
            param([pscredential]$Credential)
            Write-Output $Credential.GetNetworkCredential().Password
            """,
            2,
            "$Credential (secret: a [pscredential] parameter) reaches the arguments of Write-Output",
            id="pscredential",
        ),
        pytest.param(
            """
            param([System.Management.Automation.PSCredential]$Credential)
            $secure = $Credential.Password
            $copy = $secure.Copy()
            $Ansible.Result.copy = $copy
            """,
            4,
            "$copy (derived from $Credential) reaches $Ansible.Result.copy",
            id="pscredential-password",
        ),
    ],
)
def test_a_secret_reaching_a_command_or_a_text_is_caught(snippet, line, message):
    found = findings(snippet, "secret-taint")
    assert [finding.line for finding in found] == [line], found
    assert message in found[0].message, found[0].message


def test_taint_follows_the_payloads_own_functions():
    source = """
    param([System.Security.SecureString]$Secure)
    function Set-Secret {
        param([string]$Name, [string]$Value)
        # $Name is bound from a literal: only $Value carries the secret.
        Set-Item -Path "Env:$Name" -Value $Value
    }
    function ConvertTo-Plain {
        param($Value)
        [System.Net.NetworkCredential]::new('', $Value).Password
    }
    function Write-Each {
        param([Parameter(ValueFromPipeline)]$Item)
        process { Write-Verbose -Message $Item }
    }
    $plain = ConvertTo-Plain $Secure
    Set-Secret -Name 'x' -Value $plain
    $plain | Write-Each
    """
    found = findings(source, "secret-taint")
    assert [finding.line for finding in found] == [5, 13], "\n".join(map(str, found))
    assert found[0].message.startswith("$Value (derived from $Secure) reaches the arguments of Set-Item")
    assert found[1].message.startswith("$Item (derived from $Secure) reaches the arguments of Write-Verbose")


@pytest.mark.parametrize(
    ("call", "tainted"),
    [
        ("Use-Value -Force -Text:$plain -Label 'shown'", False),  # an alias, written with a colon
        ("Use-Value -Force $plain 'shown'", False),  # a switch takes no value: positional, in declared order
        ("Use-Value -Label:'shown' -Val $plain", False),  # a unique prefix
        ("Use-Value 'shown' -Value $plain", False),  # named first, then positional ones to those left
        ("Use-Value $plain -Value 'shown'", True),
        ("$arguments = @{ Value = $plain }\nUse-Value @arguments", True),  # splatted: any parameter may hold it
        ("Use-Value -Value $plain -Unknown $plain", True),  # a name the lint cannot place
    ],
)
def test_arguments_bind_to_the_parameters_they_name(call, tainted):
    source = (
        PLAIN
        + (
            "function Use-Value {\n"
            "    param([switch]$Force, [Alias('Text')][string]$Value, [string]$Label)\n"
            "    Write-Verbose -Message $Label\n"
            "    $null = $Value.Length\n"
            "}\n"
        )
        + call
    )
    found = findings(source, "secret-taint")
    assert [finding.line for finding in found] == ([5] if tainted else []), "\n".join(map(str, found))


@pytest.mark.parametrize(
    ("snippet", "line", "message"),
    [
        pytest.param(
            "$text = @($plain)\nforeach ($character in $text) { Write-Debug -Message $character }",
            4,
            "$character (derived from $Secure) reaches the arguments of Write-Debug",
            id="foreach",
        ),
        pytest.param(
            "$builder = [System.Text.StringBuilder]::new()\n[void]$builder.Append($plain)\n"
            "Write-Verbose -Message $builder.ToString()",
            5,
            "$builder (derived from $Secure) reaches the arguments of Write-Verbose",
            id="storing-method",
        ),
        pytest.param(
            "$settings = @{}\n$settings['password'] = $plain\nWrite-Output -InputObject $settings",
            5,
            "$settings (derived from $Secure) reaches the arguments of Write-Output",
            id="element-assignment",
        ),
        pytest.param(
            "$number = 0\n[void][int]::TryParse($plain, [ref]$number)\nWrite-Verbose -Message:$number",
            5,
            "$number (derived from $Secure) reaches the arguments of Write-Verbose",
            id="ref-argument",
        ),
        pytest.param(
            "switch ($plain) { default { $seen = $_ } }\nSet-Content -Path x -Value $seen",
            4,
            "$seen (derived from $Secure) reaches the arguments of Set-Content",
            id="switch-underbar",
        ),
        pytest.param(
            "function Get-Inner {\n    param([string]$Value, [string]$Name)\n    Get-Item @PSBoundParameters\n}\n"
            "Get-Inner -Value $plain",
            5,
            "@PSBoundParameters (derived from $Secure) reaches the arguments of Get-Item",
            id="psboundparameters",
        ),
        pytest.param(
            "$upper = $plain.ToUpper() + '!'\n$ok = -not $upper\n$long = ($upper -split '')[0]\nWrite-Host $long",
            6,
            "$long (derived from $Secure) reaches the arguments of Write-Host",
            id="operators",
        ),
    ],
)
def test_taint_propagates_through_assignments_loops_and_methods(snippet, line, message):
    found = findings(PLAIN + snippet, "secret-taint")
    assert [finding.line for finding in found] == [line], "\n".join(map(str, found))
    assert message in found[0].message, found[0].message


def test_underbar_is_what_the_block_iterates_over():
    source = PLAIN + '@($plain) | ForEach-Object { $char = $_ }\n[System.Console]::WriteLine("$char")'
    found = findings(source, "secret-taint")
    assert [(finding.line, finding.message.split(")", 1)[1].split(";")[0]) for finding in found] == [
        (3, " reaches the pipeline input of ForEach-Object"),
        (4, " reaches an expandable string, which builds text that can end up in a message, a result or a log"),
    ], found


def test_one_finding_per_sink():
    source = PLAIN + 'Write-Warning ("{0} {1}" -f $plain, "again $plain")\nthrow "bad $plain $plain"\n"$plain"'
    found = findings(source, "secret-taint")
    assert [(finding.line, finding.column, finding.message.split(")", 1)[1].split(";")[0]) for finding in found] == [
        (3, 29, " reaches the arguments of Write-Warning"),
        (4, 12, " is thrown"),
        (5, 2, " reaches an expandable string, which builds text that can end up in a message, a result or a log"),
    ], found


def test_secrets_that_reach_only_dotnet_pass():
    assert_clean(
        """
        param(
            [System.Security.SecureString]$Pfx,
            [System.Security.SecureString]$PfxPassword,
            [string]$StoreName
        )

        function Import-Pfx {
            param(
                [AllowNull()]
                [System.Security.SecureString]$Content,

                [System.Security.SecureString]$Password,

                [string]$Store
            )
            # A comparison is not a sink.
            if ($null -eq $Content -or $Content.Length -eq 0) {
                throw 'Cannot import: the Pfx parameter is empty.'
            }
            $bytes = [System.Convert]::FromBase64String([System.Net.NetworkCredential]::new('', $Content).Password)
            $text = [System.Net.NetworkCredential]::new('', $Password).Password
            $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::MachineKeySet
            $collection = [System.Security.Cryptography.X509Certificates.X509Certificate2Collection]::new()
            $collection.Import($bytes, $text, $flags)
            # A cmdlet with nothing secret in it, inside a .NET call next to the secret.
            $collection.Import($bytes, $text, (Get-Variable -Name flags -ValueOnly))
            $utf8 = [System.Text.Encoding]::UTF8.GetBytes($text)
            [System.Array]::Clear($utf8, 0, $utf8.Length)
            $copy = [System.Security.SecureString]::new()
            foreach ($c in $text.ToCharArray()) {
                $copy.AppendChar($c)
            }
            $copy.Dispose()
            $text = $null
            Write-Verbose -Message "Imported into $Store"
            $Ansible.Result['imported'] = $true
        }

        Import-Pfx -Content $Pfx -Password $PfxPassword -Store $StoreName
        Write-Verbose -Message ("{0} is done" -f $StoreName)
        """,
        "secret-taint",
    )


def test_what_names_or_compares_a_secret_passes():
    assert_clean(
        """
        param([System.Security.SecureString]$Passwords, [pscredential]$Credential, [string]$Pool)

        function ConvertFrom-PasswordParameter {
            param([System.Security.SecureString]$Secure)
            $map = [System.Collections.Generic.Dictionary[string, string]]::new()
            $text = [System.Net.NetworkCredential]::new('', $Secure).Password
            $parsed = [System.Web.Script.Serialization.JavaScriptSerializer]::new().DeserializeObject($text)
            foreach ($entry in $parsed.GetEnumerator()) {
                # The keys of a name -> secret map name the secrets.
                $poolName = [string]$entry.Key
                if ($entry.Value -isnot [string]) {
                    throw "The password for application pool '$poolName' is not a JSON string."
                }
                $map.Add($poolName, $entry.Value)
            }
            $map
        }

        $passwordMap = ConvertFrom-PasswordParameter -Secure $Passwords
        foreach ($name in $passwordMap.Keys) {
            Write-Verbose -Message "A password is given for $name"
        }
        $stored = 'from IIS'
        $Ansible.Result.matches = [string]::Equals($stored, $passwordMap[$Pool], [System.StringComparison]::Ordinal)
        $Ansible.Result.known = $passwordMap.ContainsKey($Pool)
        $isEmpty = $null -eq $Credential -or $Credential.Password.Length -eq 0
        $Ansible.Result.empty = $isEmpty
        $Ansible.Result.given = [bool]$passwordMap[$Pool]
        Get-LocalUser -Name $Credential.UserName
        $pools = @(Get-ChildItem -Path IIS:/AppPools | Where-Object { $_.Name -eq $passwordMap[$Pool] })
        """,
        "secret-taint",
    )


def test_a_script_block_the_script_compiled_may_take_secrets_as_parameters():
    # Module logging records the bindings of cmdlets and of functions of modules only; a script block compiled from
    # text is neither.
    assert_clean(
        """
        # pslint-secret: $secretText
        $secretText = [Console]::In.ReadLine()
        $arguments = @{ Password = [System.Net.NetworkCredential]::new('', $secretText).SecurePassword }
        $payload = [scriptblock]::Create([System.IO.File]::ReadAllText('payload.ps1'))
        $null = & $payload @arguments
        $other = [System.Management.Automation.ScriptBlock]::Create('param($P) $null = $P')
        . $other -P $arguments.Password
        """,
        "secret-taint",
    )


def test_values_that_hold_no_text_stop_taint():
    # A typed parameter or variable converts what it is given; the payload's own C# declares what it returns.
    assert_clean(
        """
        param([System.Security.SecureString]$Secure, [string]$UserName)
        Add-Type -TypeDefinition @'
        using System.Security.Principal;
        namespace Fixture.Logon
        {
            public static class Check
            {
                public static int TestLogon(string user, string password) { return 0; }
                public static SecurityIdentifier[] GetGroupSids(string user, string password) { return null; }
            }
        }
        '@

        function New-LogonError {
            param([string]$User, [int]$ErrorCode)
            [System.ComponentModel.Win32Exception]::new($ErrorCode, ("{0} cannot log on: {1}" -f $User, $ErrorCode))
        }

        $plain = [System.Net.NetworkCredential]::new('', $Secure).Password
        $code = [Fixture.Logon.Check]::TestLogon($UserName, $plain)
        Write-Verbose -Message "LogonUser returned $code"
        foreach ($sid in [Fixture.Logon.Check]::GetGroupSids($UserName, $plain)) {
            Write-Verbose -Message "member of $($sid.Value)"
        }
        [int]$length = $plain.Length
        if ($code -ne 0) {
            throw (New-LogonError -User $UserName -ErrorCode $length)
        }
        """,
        "secret-taint",
    )


def test_a_payload_method_that_returns_text_keeps_the_taint():
    source = """
    param([System.Security.SecureString]$Secure)
    Add-Type -TypeDefinition @'
    namespace Fixture.Logon
    {
        public static class Check
        {
            public static int Measure(string password) { return 0; }
            public static string Measure(string password, int count) { return password; }
        }
    }
    '@
    $plain = [System.Net.NetworkCredential]::new('', $Secure).Password
    $measured = [Fixture.Logon.Check]::Measure($plain, 1)
    Write-Output $measured
    """
    found = findings(source, "secret-taint")
    assert [finding.line for finding in found] == [14], found


# --- the catalogue ------------------------------------------------------------------------------------------------


def test_rules_whose_catalogue_is_absent_are_named(tmp_path):
    empty = Catalogue.load(tmp_path)
    skipped = pslint.skipped_rules(empty)
    assert set(skipped) == set(pslint.COMMAND_RULES + pslint.TYPE_RULES)
    assert pslint.lint("Get-Nonsense -Foo [No.Such.Type]::new()", catalogue=empty, rules=pslint.COMMAND_RULES) == []


def test_unknown_rules_are_refused():
    with pytest.raises(ValueError, match="unknown rules"):
        pslint.lint("1", rules=["no-such-rule"])
