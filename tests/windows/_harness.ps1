# Shared by the Pester tests in this folder: builds a payload exactly as the
# controller sends it, runs it exactly as ansible.windows.win_powershell runs
# it, and makes and removes the accounts and certificates the tests need.
#
# Dot-source it in a test file's BeforeAll:
#     . (Join-Path $PSScriptRoot '_harness.ps1')
# It defines functions only, so loading it changes nothing on the host.
#
# What "as the controller sends it" and "as win_powershell runs it" mean here
# is spelt out next to each function, with the file it follows:
#   plugins/plugin_utils/_windows_task.py (payload_source, _execute_payload),
#   ansible.windows' plugins/modules/win_powershell.ps1, and the parameter
#   decoding of ansible-core's PowerShell exec wrapper.

function Get-RepositoryRoot {
    # The file this function is defined in is tests/windows/_harness.ps1
    # (FunctionInfo.ScriptBlock.File), wherever it was dot-sourced from.
    $harness = $MyInvocation.MyCommand.ScriptBlock.File
    [System.IO.Path]::GetFullPath((Join-Path (Split-Path -Parent $harness) '..\..'))
}

function Get-PayloadDirectory {
    Join-Path (Get-RepositoryRoot) 'plugins\plugin_utils\_powershell'
}

function Read-PayloadFile {
    # The file as Python's open(path, encoding='utf-8') reads it in text
    # mode: universal newlines turn CRLF and a lone CR into LF. A checkout
    # with core.autocrlf has CRLF line ends; the controller never sends them.
    param(
        [Parameter(Mandatory)]
        [string]$Path
    )

    $text = [System.IO.File]::ReadAllText($Path, [System.Text.UTF8Encoding]::new($false))
    $text.Replace("`r`n", "`n").Replace("`r", "`n")
}

function Get-PayloadSource {
    # payload_source() of plugins/plugin_utils/_windows_task.py: the payload
    # with every line '# pkiops-include: _fragment.ps1' replaced by that
    # fragment, less its trailing newlines (Python's rstrip("\n")). The
    # pattern is _INCLUDE's, character for character; .NET's Regex is
    # case-sensitive like Python's re (PowerShell's -match and -replace are
    # not), and Multiline makes ^ and $ match at each line as re.MULTILINE
    # does. Replacements are not scanned again, as re.sub does not.
    param(
        [Parameter(Mandatory)]
        [string]$Name
    )

    $directory = Get-PayloadDirectory
    $text = Read-PayloadFile -Path (Join-Path $directory "$Name.ps1")
    $include = [System.Text.RegularExpressions.Regex]::new(
        '^# pkiops-include: (_[a-z0-9_]+\.ps1)[ \t]*\r?$',
        [System.Text.RegularExpressions.RegexOptions]::Multiline)
    $builder = [System.Text.StringBuilder]::new()
    $position = 0
    foreach ($match in $include.Matches($text)) {
        $null = $builder.Append($text, $position, $match.Index - $position)
        $fragment = Read-PayloadFile -Path (Join-Path $directory $match.Groups[1].Value)
        $null = $builder.Append($fragment.TrimEnd([char]10))
        $position = $match.Index + $match.Length
    }
    $null = $builder.Append($text, $position, $text.Length - $position)
    $builder.ToString()
}

function Get-PayloadParseError {
    # What Windows PowerShell's own parser finds wrong with the payload as it
    # is sent: one line per error, none when it parses. tree-sitter, which the
    # unit tests use, accepts some text that Windows PowerShell 5.1 refuses.
    param(
        [Parameter(Mandatory)]
        [string]$Name
    )

    $tokens = $null
    $errors = $null
    $null = [System.Management.Automation.Language.Parser]::ParseInput((Get-PayloadSource -Name $Name), [ref]$tokens, [ref]$errors)
    $messages = [System.Collections.Generic.List[string]]::new()
    foreach ($parseError in $errors) {
        $messages.Add(('{0}:{1}: {2}' -f $parseError.Extent.StartLineNumber, $parseError.Extent.StartColumnNumber, $parseError.Message))
    }
    , $messages
}

function Test-SupportsShouldProcess {
    # win_powershell's test, on the script's syntax tree: [CmdletBinding]
    # on the param() block with SupportsShouldProcess, written bare or as
    # = $true. Only such a script runs in check mode, with -WhatIf.
    param(
        [Parameter(Mandatory)]
        [string]$Script
    )

    $tokens = $null
    $errors = $null
    $ast = [System.Management.Automation.Language.Parser]::ParseInput($Script, [ref]$tokens, [ref]$errors)
    if ($errors.Count -gt 0 -or $null -eq $ast.ParamBlock) {
        return $false
    }
    foreach ($attribute in $ast.ParamBlock.Attributes) {
        if ($attribute.TypeName.Name -ne 'CmdletBinding') {
            continue
        }
        foreach ($argument in $attribute.NamedArguments) {
            if ($argument.ArgumentName -eq 'SupportsShouldProcess' -and ($argument.ExpressionOmitted -or $argument.Argument.ToString() -eq '$true')) {
                return $true
            }
        }
    }
    $false
}

function Get-ResultDepth {
    # The depth the controller asks win_powershell to keep of $Ansible.Result:
    # WindowsTaskAction.result_depth, 8, and for host_snapshot 8 + 3, because
    # each probe's result sits three levels below its own.
    param(
        [Parameter(Mandatory)]
        [string]$Name
    )

    if ($Name -eq 'host_snapshot') {
        return 11
    }
    8
}

function ConvertTo-JsonString {
    # A JSON string literal: quote, backslash and control characters escaped.
    param(
        [AllowEmptyString()]
        [string]$Text
    )

    $builder = [System.Text.StringBuilder]::new($Text.Length + 2)
    $null = $builder.Append('"')
    foreach ($character in $Text.ToCharArray()) {
        $code = [int]$character
        if ($character -ceq '"') {
            $null = $builder.Append('\"')
        }
        elseif ($character -ceq '\') {
            $null = $builder.Append('\\')
        }
        elseif ($code -lt 32) {
            $null = $builder.Append(('\u{0:x4}' -f $code))
        }
        else {
            $null = $builder.Append($character)
        }
    }
    $null = $builder.Append('"')
    $builder.ToString()
}

function ConvertTo-JsonText {
    # JSON for the values a test builds (null, booleans, integers, strings,
    # dictionaries, lists), as the controller's json.dumps writes them, keys
    # sorted so that a recording is the same from run to run. Written here
    # rather than with ConvertTo-Json, which in Windows PowerShell 5.1 writes
    # an array held in a PSObject as {"value": [...], "Count": n}.
    param(
        [AllowNull()]
        [object]$Value
    )

    if ($null -eq $Value) {
        return 'null'
    }
    $base = $Value.PSObject.BaseObject
    if ($base -is [bool]) {
        if ($base) {
            return 'true'
        }
        return 'false'
    }
    if ($base -is [string] -or $base -is [char]) {
        return (ConvertTo-JsonString -Text ([string]$base))
    }
    if ($base -is [int] -or $base -is [long] -or $base -is [int16] -or $base -is [byte] -or $base -is [uint32] -or $base -is [uint64] -or $base -is [sbyte] -or $base -is [uint16]) {
        return $base.ToString([System.Globalization.CultureInfo]::InvariantCulture)
    }
    if ($base -is [double] -or $base -is [decimal] -or $base -is [single]) {
        return $base.ToString('R', [System.Globalization.CultureInfo]::InvariantCulture)
    }
    if ($base -is [System.Collections.IDictionary]) {
        $keys = [System.Collections.Generic.List[string]]::new()
        foreach ($key in $base.Keys) {
            $keys.Add([string]$key)
        }
        $keys.Sort([System.StringComparer]::Ordinal)
        $members = [System.Collections.Generic.List[string]]::new()
        foreach ($key in $keys) {
            $members.Add(('{0}:{1}' -f (ConvertTo-JsonString -Text $key), (ConvertTo-JsonText -Value $base[$key])))
        }
        return ('{' + ($members -join ',') + '}')
    }
    if ($base -is [System.Management.Automation.PSCustomObject]) {
        $table = @{}
        foreach ($property in $Value.PSObject.Properties) {
            $table[$property.Name] = $property.Value
        }
        return (ConvertTo-JsonText -Value $table)
    }
    if ($base -is [System.Collections.IEnumerable]) {
        $items = [System.Collections.Generic.List[string]]::new()
        foreach ($item in $base) {
            $items.Add((ConvertTo-JsonText -Value $item))
        }
        return ('[' + ($items -join ',') + ']')
    }
    throw "A test parameter of type $($base.GetType().FullName) has no JSON form; give null, a boolean, an integer, a string, a list or a dictionary."
}

function ConvertFrom-JsonToHashtable {
    # JSON read as ansible-core's PowerShell exec wrapper reads a module's
    # arguments (ConvertFrom-Json, then its Convert-JsonObject): objects
    # become Hashtables, arrays object[], and numbers what ConvertFrom-Json
    # makes of them (Int32, or Int64 when too large). The payloads see their
    # parameters in exactly these types; `-is [int]` and `-is [IDictionary]`
    # depend on it.
    param(
        [Parameter(Mandatory)]
        [string]$Json
    )

    ConvertTo-HashtableTree -InputObject (ConvertFrom-Json -InputObject $Json)
}

function ConvertTo-HashtableTree {
    param(
        [AllowNull()]
        [object]$InputObject
    )

    if ($InputObject -is [System.Management.Automation.PSCustomObject]) {
        $table = @{}
        foreach ($property in $InputObject.PSObject.Properties) {
            $table[$property.Name] = ConvertTo-HashtableTree -InputObject $property.Value
        }
        return $table
    }
    if ($InputObject -is [System.Array]) {
        $items = [System.Collections.Generic.List[object]]::new()
        foreach ($item in $InputObject) {
            $items.Add((ConvertTo-HashtableTree -InputObject $item))
        }
        return , $items.ToArray()
    }
    $InputObject
}

function ConvertTo-AnsibleOutput {
    # What win_powershell's Convert-OutputObject makes of $Ansible.Result
    # before Ansible.Basic writes it as JSON, branch for branch: an enum (at
    # Depth 0 or more) becomes a dictionary of Type, String and Value; a
    # DateTime or DateTimeOffset its round-trip ('o') string; a Type a small
    # dictionary (its FullName below Depth 0); a string or a switch itself; any
    # other value type itself; below Depth 0 anything else its [string] form,
    # so a dictionary turns into the text 'System.Collections.Hashtable'; a
    # list a list and a dictionary a dictionary, each one level deeper; any
    # other object the dictionary of its properties.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, ValueFromPipeline)]
        [AllowNull()]
        [object]$InputObject,

        [Parameter(Mandatory)]
        [int]$Depth
    )

    process {
        $childDepth = $Depth - 1
        if ($null -eq $InputObject) {
            $null
        }
        elseif ($InputObject -is [System.Enum] -and $Depth -ge 0) {
            @{
                Type = $InputObject.PSTypeNames[0]
                String = $InputObject.ToString()
                Value = [int]$InputObject
            }
        }
        elseif ($InputObject -is [datetime]) {
            $InputObject.ToString('o')
        }
        elseif ($InputObject -is [System.DateTimeOffset]) {
            $InputObject.ToString('o')
        }
        elseif ($InputObject -is [type]) {
            if ($Depth -lt 0) {
                $InputObject.FullName
            }
            else {
                $baseType = $null
                if ($null -ne $InputObject.BaseType) {
                    $baseType = ConvertTo-AnsibleOutput -InputObject $InputObject.BaseType -Depth $childDepth
                }
                @{
                    Name = $InputObject.Name
                    FullName = $InputObject.FullName
                    AssemblyQualifiedName = $InputObject.AssemblyQualifiedName
                    BaseType = $baseType
                }
            }
        }
        elseif ($InputObject -is [string]) {
            $InputObject.PSObject.BaseObject
        }
        elseif ($InputObject -is [System.Management.Automation.SwitchParameter]) {
            $InputObject.IsPresent
        }
        elseif ($InputObject.GetType().IsValueType) {
            $InputObject.PSObject.BaseObject
        }
        elseif ($Depth -lt 0) {
            [string]$InputObject
        }
        elseif ($InputObject -is [System.Collections.IList]) {
            , @(foreach ($item in $InputObject) {
                    ConvertTo-AnsibleOutput -InputObject $item -Depth $childDepth
                })
        }
        elseif ($InputObject -is [System.Collections.IDictionary]) {
            $converted = @{}
            # Extended (note, alias and script) properties first, then the
            # entries, which win over a property of the same name.
            foreach ($property in $InputObject.PSObject.Properties) {
                if (@('AliasProperty', 'ScriptProperty', 'NoteProperty') -notcontains [string]$property.MemberType) {
                    continue
                }
                $converted[$property.Name] = ConvertTo-AnsibleOutput -InputObject $property.Value -Depth $childDepth
            }
            foreach ($entry in $InputObject.GetEnumerator()) {
                $converted[$entry.Key] = ConvertTo-AnsibleOutput -InputObject $entry.Value -Depth $childDepth
            }
            $converted
        }
        else {
            $converted = @{}
            foreach ($property in $InputObject.PSObject.Properties) {
                $converted[$property.Name] = ConvertTo-AnsibleOutput -InputObject $property.Value -Depth $childDepth
            }
            $converted
        }
    }
}

function New-SecretValue {
    # A sensitive parameter as win_powershell passes it: a SecureString of
    # the value, an empty SecureString for an empty value, or a PSCredential
    # for a dictionary with username and password. Test-only secrets may be
    # made with ConvertTo-SecureString -AsPlainText, which is what
    # win_powershell itself does with a task's sensitive_parameters; the
    # payloads under test never do it.
    param(
        [AllowNull()]
        [object]$Value
    )

    if ($Value -is [System.Collections.IDictionary]) {
        $password = [System.Security.SecureString]::new()
        if (-not [string]::IsNullOrEmpty([string]$Value['password'])) {
            $password = ConvertTo-SecureString -String ([string]$Value['password']) -AsPlainText -Force
        }
        return [System.Management.Automation.PSCredential]::new([string]$Value['username'], $password)
    }
    if ([string]::IsNullOrEmpty([string]$Value)) {
        return [System.Security.SecureString]::new()
    }
    ConvertTo-SecureString -String ([string]$Value) -AsPlainText -Force
}

function Get-FailureReport {
    # The exceptions behind a failed run, outermost first. PowerShell wraps
    # what the script threw in a MethodInvocationException ('Exception
    # calling "Invoke" ...'); Message is the first exception that is not such
    # a wrapper, and Text holds every message, for -Match.
    param(
        [Parameter(Mandatory)]
        [System.Management.Automation.ErrorRecord]$ErrorRecord
    )

    $messages = [System.Collections.Generic.List[string]]::new()
    $types = [System.Collections.Generic.List[string]]::new()
    $thrown = $null
    $exception = $ErrorRecord.Exception
    while ($null -ne $exception) {
        $messages.Add($exception.Message)
        $types.Add($exception.GetType().FullName)
        if ($null -eq $thrown -and $exception -isnot [System.Management.Automation.MethodInvocationException]) {
            $thrown = $exception
        }
        $exception = $exception.InnerException
    }
    if ($null -eq $thrown) {
        $thrown = $ErrorRecord.Exception
    }
    [pscustomobject]@{
        Message = $thrown.Message
        Type = $thrown.GetType().FullName
        Messages = $messages.ToArray()
        Types = $types.ToArray()
        Text = ($messages -join ' | ')
    }
}

function Get-RecordedParameter {
    # The parameters as a recording keeps them. host_snapshot's Scripts are
    # payloads, gzip compressed and base64 encoded; the recording names
    # them, and the replay compresses the repository's payloads again.
    param(
        [Parameter(Mandatory)]
        [string]$Name,

        [Parameter(Mandatory)]
        [System.Collections.IDictionary]$Parameters
    )

    if ($Name -ne 'host_snapshot' -or -not $Parameters.Contains('Scripts')) {
        return $Parameters
    }
    $recorded = @{}
    foreach ($key in $Parameters.Keys) {
        $recorded[$key] = $Parameters[$key]
    }
    $scripts = @{}
    foreach ($scriptName in $Parameters['Scripts'].Keys) {
        $scripts[$scriptName] = '<compressed payload_source>'
    }
    $recorded['Scripts'] = $scripts
    $recorded
}

function Save-ProbeRecording {
    # tests/windows/recorded/<payload>/<case>.json, in the format README.md
    # describes. The result is written exactly as Ansible.Basic would send
    # it to the controller; secrets are never recorded, only the names of
    # the sensitive parameters the run had.
    param(
        [Parameter(Mandatory)]
        [string]$Name,

        [Parameter(Mandatory)]
        [string]$Case,

        [Parameter(Mandatory)]
        [string]$ParametersJson,

        [AllowEmptyCollection()]
        [string[]]$SensitiveParameters,

        [Parameter(Mandatory)]
        [int]$Depth,

        [bool]$CheckMode,

        [bool]$Changed,

        [Parameter(Mandatory)]
        [string]$ResultJson
    )

    if ($Case -cnotmatch '^[a-z0-9][a-z0-9_-]*$') {
        throw "Recording case '$Case' must be lower-case letters, digits, '-' and '_', as it names a file."
    }
    $directory = Join-Path (Get-RepositoryRoot) "tests\windows\recorded\$Name"
    $null = [System.IO.Directory]::CreateDirectory($directory)
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    $system = Get-CimInstance -ClassName Win32_ComputerSystem
    $sensitiveNames = @()
    if ($null -ne $SensitiveParameters) {
        $sensitiveNames = @($SensitiveParameters | Sort-Object)
    }
    $hostFacts = [ordered]@{
        computer_name = $env:COMPUTERNAME
        os_caption = [string]$os.Caption
        os_version = [string]$os.Version
        powershell_version = $PSVersionTable.PSVersion.ToString()
        part_of_domain = [bool]$system.PartOfDomain
        domain = [string]$system.Domain
    }
    $lines = @(
        '{',
        '  "format": 1,',
        ('  "payload": {0},' -f (ConvertTo-JsonString -Text $Name)),
        ('  "case": {0},' -f (ConvertTo-JsonString -Text $Case)),
        ('  "recorded_at": {0},' -f (ConvertTo-JsonString -Text ([datetime]::UtcNow.ToString('o')))),
        ('  "host": {0},' -f (ConvertTo-JsonText -Value $hostFacts)),
        ('  "check_mode": {0},' -f (ConvertTo-JsonText -Value $CheckMode)),
        ('  "depth": {0},' -f $Depth),
        ('  "parameters": {0},' -f $ParametersJson),
        ('  "sensitive_parameters": {0},' -f (ConvertTo-JsonText -Value $sensitiveNames)),
        ('  "changed": {0},' -f (ConvertTo-JsonText -Value $Changed)),
        ('  "result": {0}' -f $ResultJson),
        '}'
    )
    $path = Join-Path $directory "$Case.json"
    [System.IO.File]::WriteAllText($path, (($lines -join "`n") + "`n"), [System.Text.UTF8Encoding]::new($false))
    $path
}

function Invoke-Payload {
    # Runs one payload once, as the controller's _execute_payload and
    # ansible.windows.win_powershell do:
    # - the script is payload_source(Name);
    # - its parameters are {"Mode": Mode, **Parameters}, sent as JSON and
    #   decoded as the exec wrapper decodes them, bound by name;
    # - each entry of Secrets is a sensitive parameter (New-SecretValue);
    # - -Confirm:$false, and -WhatIf in check mode; a script without
    #   SupportsShouldProcess is skipped in check mode, as win_powershell
    #   skips it;
    # - a new runspace with $ErrorActionPreference = 'Stop' and a fresh
    #   $Ansible (CheckMode, Verbosity, Result, Diff, Changed starting $true,
    #   Failed, Tmpdir), so that no variable or function of one run is seen
    #   by the next. Types compiled by Add-Type stay loaded in the process, as
    #   they would in any long-lived host; the payloads compile only a type
    #   that is not loaded yet.
    # - $Ansible.Result is converted as win_powershell converts it, to the
    #   controller's depth, written as JSON as Ansible.Basic writes it
    #   (ConvertTo-Json -Depth 99 -Compress) and read back: Result is what the
    #   controller receives, with its lists and dictionaries.
    # With -Record and PKIOPS_RECORD=1 in the environment, a successful probe
    # is saved under tests/windows/recorded (Save-ProbeRecording).
    # Returns Changed, Failed, Result (as the controller receives it),
    # ResultJson, the $Ansible object, and Error and ErrorText when the script
    # threw (Get-FailureReport).
    param(
        [Parameter(Mandatory)]
        [string]$Name,

        [Parameter(Mandatory)]
        [ValidateSet('probe', 'apply')]
        [string]$Mode,

        [System.Collections.IDictionary]$Parameters = @{},

        [System.Collections.IDictionary]$Secrets = @{},

        [switch]$CheckMode,

        [string]$Record
    )

    $script = Get-PayloadSource -Name $Name
    $depth = Get-ResultDepth -Name $Name

    $sent = @{ Mode = $Mode }
    foreach ($key in $Parameters.Keys) {
        if ([string]$key -eq 'Mode') {
            throw 'Give the mode with -Mode, not in -Parameters.'
        }
        $sent[$key] = $Parameters[$key]
    }
    $parametersJson = ConvertTo-JsonText -Value $sent
    $bound = ConvertFrom-JsonToHashtable -Json $parametersJson
    foreach ($key in $Secrets.Keys) {
        $bound[$key] = New-SecretValue -Value $Secrets[$key]
    }

    $supportsShouldProcess = Test-SupportsShouldProcess -Script $script
    if ($CheckMode -and -not $supportsShouldProcess) {
        return [pscustomobject]@{
            Payload = $Name
            Mode = $Mode
            CheckMode = $true
            Skipped = $true
            Changed = $true
            Failed = $false
            Result = @{}
            ResultJson = '{}'
            Ansible = $null
            Error = $null
            ErrorText = ''
            Output = @()
            Warnings = @()
        }
    }
    if ($supportsShouldProcess) {
        $bound['Confirm'] = $false
        $bound['WhatIf'] = [bool]$CheckMode
    }

    $temporary = Join-Path ([System.IO.Path]::GetTempPath()) ('pkiops-payload-' + [guid]::NewGuid().ToString('N'))
    $null = [System.IO.Directory]::CreateDirectory($temporary)
    $ansible = [pscustomobject]@{
        PSTypeName = 'Ansible.Windows.WinPowerShell.Module'
        CheckMode = [bool]$CheckMode
        Verbosity = 0
        Result = @{}
        Diff = @{}
        Changed = $true
        Failed = $false
        Tmpdir = $temporary
    }

    $runspace = [System.Management.Automation.Runspaces.RunspaceFactory]::CreateRunspace()
    $pipeline = $null
    $reader = $null
    $failure = $null
    $output = [System.Collections.Generic.List[object]]::new()
    $final = $null
    $warnings = [System.Collections.Generic.List[string]]::new()
    try {
        $runspace.Open()
        $runspace.SessionStateProxy.SetVariable('Ansible', $ansible)
        $runspace.SessionStateProxy.SetVariable('ErrorActionPreference', [System.Management.Automation.ActionPreference]::Stop)
        $pipeline = [System.Management.Automation.PowerShell]::Create()
        $pipeline.Runspace = $runspace
        $null = $pipeline.AddScript($script).AddParameters($bound)
        try {
            $pipeline.Invoke(@(), $output)
        }
        catch {
            $failure = Get-FailureReport -ErrorRecord $_
        }
        foreach ($warning in $pipeline.Streams.Warning) {
            $warnings.Add($warning.Message)
        }
        # Read back through a pipeline, as win_powershell does: the object
        # the script left in $Ansible, whatever it assigned.
        $reader = [System.Management.Automation.PowerShell]::Create()
        $reader.Runspace = $runspace
        $final = $reader.AddScript('$Ansible').Invoke()[0]
    }
    finally {
        if ($null -ne $reader) {
            $reader.Dispose()
        }
        if ($null -ne $pipeline) {
            $pipeline.Dispose()
        }
        $runspace.Dispose()
        Remove-Item -LiteralPath $temporary -Recurse -Force -ErrorAction SilentlyContinue
    }

    $converted = ConvertTo-AnsibleOutput -InputObject $final.Result -Depth $depth
    $resultJson = ConvertTo-Json -InputObject $converted -Depth 99 -Compress
    $result = ConvertFrom-JsonToHashtable -Json $resultJson
    $failed = ($null -ne $failure) -or [bool]$final.Failed
    $changed = [bool]$final.Changed

    if ($Record -and $Mode -eq 'probe' -and -not $failed -and $env:PKIOPS_RECORD -eq '1') {
        $recordedJson = ConvertTo-JsonText -Value (Get-RecordedParameter -Name $Name -Parameters $sent)
        $null = Save-ProbeRecording -Name $Name -Case $Record -ParametersJson $recordedJson -SensitiveParameters @($Secrets.Keys) `
            -Depth $depth -CheckMode ([bool]$CheckMode) -Changed $changed -ResultJson $resultJson
    }

    $errorText = ''
    if ($null -ne $failure) {
        $errorText = $failure.Text
    }
    [pscustomobject]@{
        Payload = $Name
        Mode = $Mode
        CheckMode = [bool]$CheckMode
        Skipped = $false
        Changed = $changed
        Failed = $failed
        Result = $result
        ResultJson = $resultJson
        # The $Ansible object itself, as the script left it.
        Ansible = $final
        Error = $failure
        ErrorText = $errorText
        Output = $output.ToArray()
        Warnings = $warnings.ToArray()
    }
}

function Invoke-IsolatedScript {
    # Runs script text in a new runspace with $ErrorActionPreference 'Stop',
    # as Invoke-Payload runs a payload, and returns what it writes. Variables
    # are set in the runspace before the script runs, so that values reach it
    # without being quoted into its text. Types it compiles with Add-Type are
    # loaded in this process, as a payload's are.
    param(
        [Parameter(Mandatory)]
        [string]$Script,

        [System.Collections.IDictionary]$Variables = @{}
    )

    $runspace = [System.Management.Automation.Runspaces.RunspaceFactory]::CreateRunspace()
    $pipeline = $null
    try {
        $runspace.Open()
        $runspace.SessionStateProxy.SetVariable('ErrorActionPreference', [System.Management.Automation.ActionPreference]::Stop)
        foreach ($key in $Variables.Keys) {
            $runspace.SessionStateProxy.SetVariable([string]$key, $Variables[$key])
        }
        $pipeline = [System.Management.Automation.PowerShell]::Create()
        $pipeline.Runspace = $runspace
        $null = $pipeline.AddScript($Script)
        foreach ($item in $pipeline.Invoke()) {
            $item
        }
    }
    finally {
        if ($null -ne $pipeline) {
            $pipeline.Dispose()
        }
        $runspace.Dispose()
    }
}

function Invoke-PayloadFragment {
    # Runs functions of the shared fragments on their own, where a test needs
    # one's answer rather than a payload's result: the fragments as
    # payload_source() inlines them (Read-PayloadFile, less their trailing
    # newlines), then Script, through Invoke-IsolatedScript.
    param(
        [Parameter(Mandatory)]
        [string[]]$Fragment,

        [Parameter(Mandatory)]
        [string]$Script,

        [System.Collections.IDictionary]$Variables = @{}
    )

    $directory = Get-PayloadDirectory
    $parts = [System.Collections.Generic.List[string]]::new()
    foreach ($name in $Fragment) {
        $parts.Add((Read-PayloadFile -Path (Join-Path $directory $name)).TrimEnd([char]10))
    }
    $parts.Add($Script)
    Invoke-IsolatedScript -Script ($parts -join "`n") -Variables $Variables
}

function Test-IsList {
    # Whether a value of a converted result is a JSON list; a one-element
    # list that PowerShell unrolled would arrive as the element itself.
    param(
        [AllowNull()]
        [object]$Value
    )

    $Value -is [System.Array]
}

function Assert-PayloadTestHost {
    # The tests need Windows PowerShell 5.1, an elevated session, and Windows
    # Server 2016 (build 14393) or later.
    if ($PSVersionTable.PSEdition -ne 'Desktop' -or $PSVersionTable.PSVersion.Major -ne 5 -or $PSVersionTable.PSVersion.Minor -ne 1) {
        throw "These tests run under Windows PowerShell 5.1 (powershell.exe), not PowerShell $($PSVersionTable.PSVersion) ($($PSVersionTable.PSEdition))."
    }
    $principal = [System.Security.Principal.WindowsPrincipal]::new([System.Security.Principal.WindowsIdentity]::GetCurrent())
    if (-not $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)) {
        throw 'These tests change the local security policy, IIS and the LocalMachine certificate stores; run them in an elevated Windows PowerShell.'
    }
    if (-not [System.Environment]::Is64BitProcess) {
        throw 'Run the 64-bit Windows PowerShell: a 32-bit one sees the 32-bit registry and System32 redirected.'
    }
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    # ProductType 1 is a workstation; 2 a domain controller, 3 a server.
    if ([int]$os.ProductType -eq 1 -or [int]$os.BuildNumber -lt 14393) {
        throw "These tests need Windows Server 2016 (build 14393) or later, not $($os.Caption) build $($os.BuildNumber)."
    }
}

function New-CleanupList {
    , [System.Collections.Generic.List[object]]::new()
}

function Register-TestCleanup {
    # Something to undo in AfterAll, registered as soon as it exists so that
    # a failure later in the setup still undoes it.
    param(
        [Parameter(Mandatory)]
        [System.Collections.Generic.List[object]]$List,

        [Parameter(Mandatory)]
        [string]$Description,

        [Parameter(Mandatory)]
        [scriptblock]$Action,

        [object[]]$ArgumentList = @()
    )

    $List.Add([pscustomobject]@{
            Description = $Description
            Action = $Action
            ArgumentList = $ArgumentList
        })
}

function Invoke-TestCleanup {
    # Undoes everything registered, the last first. Every action runs even
    # when another fails; the failures are reported together at the end.
    param(
        [AllowNull()]
        [System.Collections.Generic.List[object]]$List
    )

    if ($null -eq $List) {
        return
    }
    $failures = [System.Collections.Generic.List[string]]::new()
    for ($index = $List.Count - 1; $index -ge 0; $index--) {
        $entry = $List[$index]
        $arguments = $entry.ArgumentList
        try {
            $null = & $entry.Action @arguments
        }
        catch {
            $failures.Add(('{0}: {1}' -f $entry.Description, $_.Exception.Message))
        }
    }
    $List.Clear()
    if ($failures.Count -gt 0) {
        throw "Cleanup could not undo everything on this host: $($failures -join '; ')"
    }
}

function Wait-Condition {
    # Polls until the condition holds or the time is up; $true when it held.
    # Windows applies some changes asynchronously (WAS starting a pool, the
    # security database taking an LSA change).
    param(
        [Parameter(Mandatory)]
        [scriptblock]$Condition,

        [int]$TimeoutSeconds = 20,

        [int]$IntervalMilliseconds = 250
    )

    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    while ($true) {
        if (& $Condition) {
            return $true
        }
        if ($clock.Elapsed.TotalSeconds -ge $TimeoutSeconds) {
            return $false
        }
        Start-Sleep -Milliseconds $IntervalMilliseconds
    }
}

function Invoke-NativeCommand {
    # Runs a Windows tool and returns its exit code and output. Start-Process
    # with files for the output, so that nothing the tool writes is taken for
    # PowerShell output.
    param(
        [Parameter(Mandatory)]
        [string]$FilePath,

        [Parameter(Mandatory)]
        [string]$Arguments
    )

    $stdout = [System.IO.Path]::GetTempFileName()
    $stderr = [System.IO.Path]::GetTempFileName()
    try {
        $process = Start-Process -FilePath $FilePath -ArgumentList $Arguments -Wait -PassThru -NoNewWindow `
            -RedirectStandardOutput $stdout -RedirectStandardError $stderr
        [pscustomobject]@{
            ExitCode = $process.ExitCode
            Output = [System.IO.File]::ReadAllText($stdout)
            ErrorOutput = [System.IO.File]::ReadAllText($stderr)
        }
    }
    finally {
        Remove-Item -LiteralPath $stdout -Force -ErrorAction SilentlyContinue
        Remove-Item -LiteralPath $stderr -Force -ErrorAction SilentlyContinue
    }
}

function New-TestName {
    # A name no earlier run used, short enough for a local account (20
    # characters) and an IIS pool.
    param(
        [string]$Prefix = 'pkt'
    )

    $Prefix + [guid]::NewGuid().ToString('N').Substring(0, 12)
}

function New-TestPassword {
    # Random, and complex enough for the default password policy: upper and
    # lower case, a digit and a symbol. Lives only for one test run.
    'Pk1!' + [guid]::NewGuid().ToString('N') + 'zQ'
}

function New-TestLocalUser {
    # A local user with a random name and password, deleted in AfterAll.
    param(
        [Parameter(Mandatory)]
        [System.Collections.Generic.List[object]]$Cleanup
    )

    $name = New-TestName
    $password = New-TestPassword
    # Test-only: New-LocalUser takes the password as a SecureString.
    $secure = ConvertTo-SecureString -String $password -AsPlainText -Force
    $user = New-LocalUser -Name $name -Password $secure -PasswordNeverExpires -AccountNeverExpires -Description 'pkiops payload test account'
    $sid = $user.SID.Value
    Register-TestCleanup -List $Cleanup -Description "local user $name" -ArgumentList @($sid) -Action {
        param($UserSid)
        if ($null -ne (Get-LocalUser -SID $UserSid -ErrorAction SilentlyContinue)) {
            Remove-LocalUser -SID $UserSid
        }
    }
    [pscustomobject]@{
        Name = $name
        Sid = $sid
        Password = $password
        Account = "$env:COMPUTERNAME\$name"
    }
}

function Get-LocalName {
    # The name Windows gives a well-known SID in this installation's
    # language (BUILTIN\Administrators is BUILTIN\Administratoren in German).
    param(
        [Parameter(Mandatory)]
        [string]$Sid
    )

    ([System.Security.Principal.SecurityIdentifier]::new($Sid)).Translate([System.Security.Principal.NTAccount]).Value
}

function Get-SeceditRightHolder {
    # The holders of each right as secedit exports the local security policy
    # (MS-GPSB 2.2.6, [Privilege Rights]: '*' and a SID, or an account name),
    # as upper-case SIDs. A second reading of the policy, through another
    # tool than the payload's LSA calls.
    param(
        [Parameter(Mandatory)]
        [string[]]$Rights
    )

    $holders = @{}
    foreach ($right in $Rights) {
        $holders[$right] = [System.Collections.Generic.List[string]]::new()
    }
    $file = Join-Path ([System.IO.Path]::GetTempPath()) ('pkiops-secedit-' + [guid]::NewGuid().ToString('N') + '.inf')
    try {
        $secedit = Join-Path $env:SystemRoot 'System32\secedit.exe'
        $run = Invoke-NativeCommand -FilePath $secedit -Arguments ('/export /cfg "{0}" /areas USER_RIGHTS' -f $file)
        if ($run.ExitCode -ne 0) {
            throw "secedit /export failed with exit code $($run.ExitCode): $($run.Output) $($run.ErrorOutput)"
        }
        $inPrivilegeRights = $false
        # ReadAllLines detects the UTF-16 byte order mark secedit writes.
        foreach ($line in [System.IO.File]::ReadAllLines($file)) {
            $trimmed = $line.Trim()
            if ($trimmed.StartsWith('[')) {
                $inPrivilegeRights = $trimmed -eq '[Privilege Rights]'
                continue
            }
            $equals = $trimmed.IndexOf('=')
            if (-not $inPrivilegeRights -or $equals -lt 1) {
                continue
            }
            $right = $trimmed.Substring(0, $equals).Trim()
            if (-not $holders.ContainsKey($right)) {
                continue
            }
            foreach ($entry in $trimmed.Substring($equals + 1).Split(',')) {
                $text = $entry.Trim()
                if ($text.Length -eq 0) {
                    continue
                }
                if ($text.StartsWith('*')) {
                    $holders[$right].Add($text.Substring(1).ToUpperInvariant())
                }
                else {
                    # An account secedit wrote by name; one that no longer
                    # translates is kept as its name, which matches no SID.
                    try {
                        $holders[$right].Add(([System.Security.Principal.NTAccount]::new($text)).Translate([System.Security.Principal.SecurityIdentifier]).Value.ToUpperInvariant())
                    }
                    catch {
                        $holders[$right].Add($text.ToUpperInvariant())
                    }
                }
            }
        }
    }
    finally {
        Remove-Item -LiteralPath $file -Force -ErrorAction SilentlyContinue
    }
    $holders
}

function New-TestCertificate {
    # A certificate with a 2048-bit RSA key in LocalMachine\My, made with
    # New-SelfSignedCertificate (pki module), removed with its key in
    # AfterAll. -Provider capi keeps the key in a legacy CryptoAPI provider
    # (KeySpec KeyExchange); the default is the CNG Microsoft Software Key
    # Storage Provider. A -CertificateAuthority certificate has basic
    # constraints CA and may sign others, which -Signer names.
    param(
        [Parameter(Mandatory)]
        [string]$Subject,

        [ValidateSet('cng', 'capi')]
        [string]$Provider = 'cng',

        [switch]$CertificateAuthority,

        [System.Security.Cryptography.X509Certificates.X509Certificate2]$Signer,

        [string]$SerialNumber,

        [Parameter(Mandatory)]
        [System.Collections.Generic.List[object]]$Cleanup
    )

    $arguments = @{
        Type = 'Custom'
        Subject = "CN=$Subject"
        CertStoreLocation = 'Cert:\LocalMachine\My'
        KeyExportPolicy = 'Exportable'
        KeyAlgorithm = 'RSA'
        KeyLength = 2048
        NotAfter = (Get-Date).AddDays(30)
    }
    if ($Provider -eq 'capi') {
        $arguments['Provider'] = 'Microsoft Enhanced RSA and AES Cryptographic Provider'
        $arguments['KeySpec'] = 'KeyExchange'
    }
    if ($CertificateAuthority) {
        $arguments['KeyUsage'] = @('CertSign', 'CRLSign', 'DigitalSignature')
        # X509BasicConstraintsExtension(certificateAuthority, hasPathLengthConstraint, pathLengthConstraint, critical)
        $arguments['Extension'] = @([System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension]::new($true, $false, 0, $true))
    }
    else {
        $arguments['KeyUsage'] = @('DigitalSignature', 'KeyEncipherment')
    }
    if ($null -ne $Signer) {
        $arguments['Signer'] = $Signer
    }
    if ($SerialNumber) {
        $arguments['SerialNumber'] = $SerialNumber
    }
    $certificate = New-SelfSignedCertificate @arguments
    Register-TestCleanup -List $Cleanup -Description "certificate $($certificate.Thumbprint) and its key" -ArgumentList @($certificate.Thumbprint) -Action {
        param($Thumbprint)
        Remove-TestCertificate -Thumbprint $Thumbprint
    }
    $certificate
}

function Remove-TestCertificate {
    # Every copy of the certificate in LocalMachine My, CA and Root, with the
    # key of the one in My (the certificate provider's -DeleteKey).
    param(
        [Parameter(Mandatory)]
        [string]$Thumbprint
    )

    foreach ($storeName in @('My', 'CA', 'Root')) {
        $path = "Cert:\LocalMachine\$storeName\$Thumbprint"
        if (-not (Test-Path -LiteralPath $path)) {
            continue
        }
        if ($storeName -eq 'My') {
            Remove-Item -LiteralPath $path -DeleteKey
        }
        else {
            Remove-Item -LiteralPath $path
        }
    }
}

function Get-StoreCertificate {
    # The certificate with this thumbprint in LocalMachine\<Store>, read
    # through the certificate provider, or $null. A path that names the
    # thumbprint finds an archived certificate too: the provider looks it up
    # with CertFindCertificateInStore by its hash, and "a certificate with
    # this property set is still found with explicit search operations, such
    # as finding a certificate with a specific hash" (CERT_ARCHIVED_PROP_ID).
    # Test-CertificateListed says whether the store shows it.
    param(
        [Parameter(Mandatory)]
        [string]$Store,

        [Parameter(Mandatory)]
        [string]$Thumbprint
    )

    $path = "Cert:\LocalMachine\$Store\$Thumbprint"
    if (-not (Test-Path -LiteralPath $path)) {
        return $null
    }
    Get-Item -LiteralPath $path
}

function Test-CertificateListed {
    # Whether Get-ChildItem lists the certificate in LocalMachine\<Store>,
    # as certlm.msc and everything else that enumerates the store shows it.
    # Without -Force the certificate provider opens the store without
    # CERT_STORE_ENUM_ARCHIVED_FLAG, and an enumeration "will ignore any
    # certificate with the CERT_ARCHIVED_PROP_ID property set".
    param(
        [Parameter(Mandatory)]
        [string]$Store,

        [Parameter(Mandatory)]
        [string]$Thumbprint
    )

    foreach ($certificate in Get-ChildItem -LiteralPath "Cert:\LocalMachine\$Store") {
        if ([string]::Equals($certificate.Thumbprint, $Thumbprint, [System.StringComparison]::OrdinalIgnoreCase)) {
            return $true
        }
    }
    $false
}

function Get-CertificateArchived {
    # X509Certificate2.Archived (whether CERT_ARCHIVED_PROP_ID is set) of
    # the certificate in LocalMachine\<Store>, read from the store opened
    # with OpenFlags.IncludeArchived, which enumerates archived certificates
    # too; $null when the store does not hold the certificate at all.
    param(
        [Parameter(Mandatory)]
        [string]$Store,

        [Parameter(Mandatory)]
        [string]$Thumbprint
    )

    $x509Store = [System.Security.Cryptography.X509Certificates.X509Store]::new($Store, [System.Security.Cryptography.X509Certificates.StoreLocation]::LocalMachine)
    $openFlags = [System.Security.Cryptography.X509Certificates.OpenFlags]::ReadOnly -bor [System.Security.Cryptography.X509Certificates.OpenFlags]::OpenExistingOnly
    $openFlags = $openFlags -bor [System.Security.Cryptography.X509Certificates.OpenFlags]::IncludeArchived
    $x509Store.Open($openFlags)
    try {
        $archived = $null
        foreach ($certificate in $x509Store.Certificates) {
            try {
                if ([string]::Equals($certificate.Thumbprint, $Thumbprint, [System.StringComparison]::OrdinalIgnoreCase)) {
                    $archived = $certificate.Archived
                }
            }
            finally {
                $certificate.Reset()
            }
        }
        $archived
    }
    finally {
        $x509Store.Close()
    }
}

function Set-CertificateArchived {
    # Archives the certificate in LocalMachine\<Store>, as automatic
    # enrollment archives one it renewed, or (-Archived $false) restores it;
    # returns how many copies it changed. The store is opened ReadWrite with
    # OpenFlags.IncludeArchived, and X509Certificate2.Archived is set on the
    # copy the store enumerated, which sets or removes CERT_ARCHIVED_PROP_ID
    # of that copy in the store (CertSetCertificateContextProperty).
    param(
        [Parameter(Mandatory)]
        [string]$Store,

        [Parameter(Mandatory)]
        [string]$Thumbprint,

        [Parameter(Mandatory)]
        [bool]$Archived
    )

    $x509Store = [System.Security.Cryptography.X509Certificates.X509Store]::new($Store, [System.Security.Cryptography.X509Certificates.StoreLocation]::LocalMachine)
    $openFlags = [System.Security.Cryptography.X509Certificates.OpenFlags]::ReadWrite -bor [System.Security.Cryptography.X509Certificates.OpenFlags]::OpenExistingOnly
    $openFlags = $openFlags -bor [System.Security.Cryptography.X509Certificates.OpenFlags]::IncludeArchived
    $x509Store.Open($openFlags)
    try {
        $changed = 0
        foreach ($certificate in $x509Store.Certificates) {
            try {
                if ([string]::Equals($certificate.Thumbprint, $Thumbprint, [System.StringComparison]::OrdinalIgnoreCase) -and $certificate.Archived -ne $Archived) {
                    $certificate.Archived = $Archived
                    $changed++
                }
            }
            finally {
                $certificate.Reset()
            }
        }
        $changed
    }
    finally {
        $x509Store.Close()
    }
}

function Register-ArchivedCertificateCleanup {
    # Restores the certificate in AfterAll before it is removed, so that
    # nothing archived is left behind should a test fail between archiving
    # and restoring it. Register it after the certificate's own cleanup: the
    # last registered runs first.
    param(
        [Parameter(Mandatory)]
        [System.Collections.Generic.List[object]]$Cleanup,

        [Parameter(Mandatory)]
        [string]$Store,

        [Parameter(Mandatory)]
        [string]$Thumbprint
    )

    Register-TestCleanup -List $Cleanup -Description "archived copy of $Thumbprint in LocalMachine\$Store" -ArgumentList @($Store, $Thumbprint) -Action {
        param($StoreName, $CertificateThumbprint)
        $null = Set-CertificateArchived -Store $StoreName -Thumbprint $CertificateThumbprint -Archived $false
    }
}

function Get-PrivateKeyInfo {
    # The key a certificate refers to, as .NET Framework opens it: the
    # provider kind, whether it may be exported, whether it signs, and the
    # file the Microsoft software providers keep it in, whose DACL is the
    # key's. X509Certificate2.PrivateKey opens CryptoAPI keys only, as an
    # RSACryptoServiceProvider (its CspKeyContainerInfo names the container
    # file under ProgramData\Microsoft\Crypto\RSA\MachineKeys) and throws for
    # a CNG key, which RSACertificateExtensions.GetRSAPrivateKey opens as an
    # RSACng (its CngKey names the file under ProgramData\Microsoft\Crypto\Keys).
    param(
        [Parameter(Mandatory)]
        [System.Security.Cryptography.X509Certificates.X509Certificate2]$Certificate
    )

    $data = [byte[]](1, 2, 3, 4)
    $capi = $null
    try {
        $capi = $Certificate.PrivateKey
    }
    catch {
        $capi = $null
    }
    if ($capi -is [System.Security.Cryptography.RSACryptoServiceProvider]) {
        try {
            return [pscustomobject]@{
                Provider = 'capi'
                Exportable = $capi.CspKeyContainerInfo.Exportable
                Signs = $capi.SignData($data, [System.Security.Cryptography.HashAlgorithmName]::SHA256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1).Length -gt 0
                File = Join-Path $env:ProgramData ('Microsoft\Crypto\RSA\MachineKeys\' + $capi.CspKeyContainerInfo.UniqueKeyContainerName)
            }
        }
        finally {
            $capi.Dispose()
        }
    }
    $rsa = [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPrivateKey($Certificate)
    if ($rsa -isnot [System.Security.Cryptography.RSACng]) {
        return $null
    }
    try {
        $policy = $rsa.Key.ExportPolicy
        [pscustomobject]@{
            Provider = 'cng'
            Exportable = ($policy -band [System.Security.Cryptography.CngExportPolicies]::AllowExport) -ne 0 -or ($policy -band [System.Security.Cryptography.CngExportPolicies]::AllowPlaintextExport) -ne 0
            Signs = $rsa.SignData($data, [System.Security.Cryptography.HashAlgorithmName]::SHA256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1).Length -gt 0
            File = Join-Path $env:ProgramData ('Microsoft\Crypto\Keys\' + $rsa.Key.UniqueName)
        }
    }
    finally {
        $rsa.Dispose()
    }
}

function Get-FileAclEntry {
    # The DACL entries of a file as Get-Acl reads them: sid, type, the raw
    # access mask as an unsigned number, and inherited.
    param(
        [Parameter(Mandatory)]
        [string]$Path
    )

    $entries = [System.Collections.Generic.List[object]]::new()
    $acl = Get-Acl -LiteralPath $Path
    foreach ($rule in $acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
        $type = 'deny'
        if ($rule.AccessControlType -eq [System.Security.AccessControl.AccessControlType]::Allow) {
            $type = 'allow'
        }
        $entries.Add([pscustomobject]@{
                Sid = $rule.IdentityReference.Value
                Type = $type
                Mask = ([long][int]$rule.FileSystemRights) -band [long]4294967295
                Inherited = $rule.IsInherited
            })
    }
    , $entries
}

function Get-KeyAccessLevel {
    # A key ACL mask read as the controller reads it (access_level() in
    # plugins/plugin_utils/_private_keys.py): 'full_control' for GENERIC_ALL
    # or FILE_ALL_ACCESS, 'read' for GENERIC_READ or FILE_GENERIC_READ with
    # nothing beyond read and execute, 'other' for anything else, 'none' for 0.
    # Windows may store the generic bits the MMC writes mapped to the
    # specific ones, so either spelling has to count.
    param(
        [Parameter(Mandatory)]
        [long]$Mask
    )

    $unsigned = $Mask -band [long]4294967295
    $genericRead = [long]2147483648           # 0x80000000
    $genericAll = [long]268435456             # 0x10000000
    $fileGenericRead = [long]1179785          # 0x00120089
    $fileAllAccess = [long]2032127            # 0x001F01FF
    $readOnly = [long]2685534377              # 0xA01200A9: GENERIC_READ, GENERIC_EXECUTE, FILE_GENERIC_READ, FILE_GENERIC_EXECUTE
    if ($unsigned -eq 0) {
        return 'none'
    }
    if (($unsigned -band $genericAll) -ne 0 -or ($unsigned -band $fileAllAccess) -eq $fileAllAccess) {
        return 'full_control'
    }
    if ((($unsigned -band $genericRead) -ne 0 -or ($unsigned -band $fileGenericRead) -eq $fileGenericRead) -and ($unsigned -band (-bnot $readOnly) -band [long]4294967295) -eq 0) {
        return 'read'
    }
    'other'
}

function Get-ReportedAccessLevel {
    # The controller's reading of a key report's explicit allow entries for
    # one SID (the probe's acl list): 'none', 'read', 'full_control' or
    # 'other'.
    param(
        [AllowEmptyCollection()]
        [object[]]$Acl,

        [Parameter(Mandatory)]
        [string]$Sid
    )

    $mask = [long]0
    foreach ($entry in $Acl) {
        if ($entry['sid'] -eq $Sid -and $entry['type'] -eq 'allow' -and -not $entry['inherited']) {
            $mask = $mask -bor ([long]$entry['rights'] -band [long]4294967295)
        }
    }
    Get-KeyAccessLevel -Mask $mask
}

function Get-KeyFileAccessLevel {
    # The same reading of a key file's DACL, through Get-Acl.
    param(
        [Parameter(Mandatory)]
        [string]$Path,

        [Parameter(Mandatory)]
        [string]$Sid
    )

    $mask = [long]0
    foreach ($entry in Get-FileAclEntry -Path $Path) {
        if ($entry.Sid -eq $Sid -and $entry.Type -eq 'allow' -and -not $entry.Inherited) {
            $mask = $mask -bor $entry.Mask
        }
    }
    Get-KeyAccessLevel -Mask $mask
}

function Get-AclSummary {
    # An ACL as comparable text: one 'sid|type|inherited|mask' line per SID,
    # type and inheritance, masks of the same line OR-ed together (Get-Acl's
    # FileSecurity merges such entries; the payload reports them as stored),
    # lines sorted. -Reported takes a key report's acl list, -Path a file.
    param(
        [AllowEmptyCollection()]
        [object[]]$Reported,

        [string]$Path
    )

    $masks = @{}
    if ($Path) {
        foreach ($entry in Get-FileAclEntry -Path $Path) {
            $key = '{0}|{1}|{2}' -f $entry.Sid.ToUpperInvariant(), $entry.Type, ([string]$entry.Inherited).ToLowerInvariant()
            $masks[$key] = [long]$masks[$key] -bor $entry.Mask
        }
    }
    else {
        foreach ($entry in $Reported) {
            $key = '{0}|{1}|{2}' -f ([string]$entry['sid']).ToUpperInvariant(), $entry['type'], ([string]$entry['inherited']).ToLowerInvariant()
            $masks[$key] = [long]$masks[$key] -bor ([long]$entry['rights'] -band [long]4294967295)
        }
    }
    $lines = [System.Collections.Generic.List[string]]::new()
    foreach ($key in $masks.Keys) {
        $lines.Add(('{0}|0x{1:X8}' -f $key, $masks[$key]))
    }
    $lines.Sort([System.StringComparer]::Ordinal)
    $lines -join "`n"
}

function New-KeyAclOperation {
    # One key ACL operation as the controller sends it (plan_key_acl in
    # plugins/plugin_utils/_private_keys.py): sid, action 'set' with the mask
    # as a signed 32-bit number, or action 'remove'. -Access read is the
    # MMC's Read, 0x80120089; full_control its Full control, 0xD01F01FF.
    param(
        [Parameter(Mandatory)]
        [string]$Sid,

        [Parameter(Mandatory)]
        [ValidateSet('read', 'full_control', 'remove')]
        [string]$Access
    )

    if ($Access -eq 'remove') {
        return @{ sid = $Sid; action = 'remove' }
    }
    $rights = -2146303863
    if ($Access -eq 'full_control') {
        $rights = -803274241
    }
    @{ sid = $Sid; action = 'set'; rights = $rights }
}

function Install-TestFeature {
    # Installs Windows features the test needs (ServerManager's
    # Install-WindowsFeature) and says which it installed; they are left
    # installed, as a reboot-free removal is not always possible.
    param(
        [Parameter(Mandatory)]
        [string[]]$Name
    )

    $missing = [System.Collections.Generic.List[string]]::new()
    foreach ($feature in Get-WindowsFeature -Name $Name) {
        if (-not $feature.Installed) {
            $missing.Add($feature.Name)
        }
    }
    if ($missing.Count -gt 0) {
        $outcome = Install-WindowsFeature -Name $missing.ToArray()
        if (-not $outcome.Success) {
            throw "Install-WindowsFeature $($missing -join ', ') did not succeed (exit code $($outcome.ExitCode))."
        }
    }
    , $missing
}

function Get-ClusterTestSkipReason {
    # Why the cluster tests cannot run on this host, or $null when they can.
    # They need a node of a running failover cluster with the FailoverClusters
    # module, and the operator's consent and inputs in the environment: they
    # create, move and remove a Generic Service role on that cluster.
    $service = Get-Service -Name 'ClusSvc' -ErrorAction SilentlyContinue
    if ($null -eq $service) {
        return 'this host is not a node of a failover cluster (it has no cluster service); a GitHub-hosted runner never is'
    }
    if ([string]$service.Status -ne 'Running') {
        return "the cluster service of this host is $($service.Status), not Running"
    }
    if ($null -eq (Get-Module -ListAvailable -Name 'FailoverClusters')) {
        return 'the FailoverClusters PowerShell module is not installed (Install-WindowsFeature RSAT-Clustering-PowerShell)'
    }
    if ($env:PKIOPS_CLUSTER_TESTS -ne '1') {
        return 'set PKIOPS_CLUSTER_TESTS=1 to let these tests create, move and remove a Generic Service role on this cluster'
    }
    if ([string]::IsNullOrWhiteSpace($env:PKIOPS_CLUSTER_SERVICE)) {
        return 'set PKIOPS_CLUSTER_SERVICE to the name of a service installed on every node, which the test role runs'
    }
    if ([string]::IsNullOrWhiteSpace($env:PKIOPS_CLUSTER_ADDRESS)) {
        return 'set PKIOPS_CLUSTER_ADDRESS to a free static IPv4 address on one of the cluster''s client networks, for the test role'
    }
    $null
}
