# pkiops-transport: runner
#
# Runs one of this collection's payloads for its action plugin, in place of
# ansible.windows.win_powershell, on a task without become. The loader
# (loader.ps1) read standard input into $lines and dot-sourced this script:
#   $lines[1]  the payload's script, gzip compressed (RFC 1952), base64;
#   $lines[2]  the request, a JSON object in ASCII: Parameters (the payload's
#              parameters by name), CheckMode and Depth;
#   $lines[3]  the secrets, a JSON array in ASCII of {name, value} or
#              {name, username, password}. No other line holds a secret.
# It writes one line of JSON, in ASCII, to standard output, with the keys of
# win_powershell's result that the action plugins read: changed, failed,
# result, warning and error.
#
# Why not win_powershell: it turns each sensitive parameter into a
# SecureString with ConvertTo-SecureString, and Module Logging (event 4103)
# records that cmdlet's -String value. Here both JSON lines are read with
# .NET (JavaScriptSerializer), each secret becomes a SecureString or a
# PSCredential through .NET (NetworkCredential.SecurePassword, the
# PSCredential constructor), and the payload receives it through
# PowerShell.AddParameters, a .NET call, which Module Logging does not record:
# it records the commands of modules. Script Block Logging (event 4104)
# records the loader, this script and the payload, none of which holds a
# secret; transcription records the output, which holds none either.
#
# As win_powershell does, the payload runs in a runspace of its own, with
# $ErrorActionPreference 'Stop', -Confirm:$false, -WhatIf in check mode and an
# $Ansible object with the same members; it sees none of this script's
# variables, and its script: scope lasts one run.
#
# API reference: JavaScriptSerializer (DeserializeObject, Serialize,
# MaxJsonLength), NetworkCredential(String, String) and SecurePassword,
# PSCredential(String, SecureString), GZipStream, RunspaceFactory.CreateRunspace,
# Runspace.SessionStateProxy.SetVariable, PowerShell.AddScript, AddParameters,
# Invoke and Streams, about_CommonParameters (-WhatIf, -Confirm).

$ErrorActionPreference = 'Stop'

function ConvertFrom-CompressedText {
    param(
        [Parameter(Mandatory)]
        [string]$Encoded
    )

    $compressed = [System.IO.MemoryStream]::new([System.Convert]::FromBase64String($Encoded))
    $gzip = [System.IO.Compression.GZipStream]::new($compressed, [System.IO.Compression.CompressionMode]::Decompress)
    $reader = [System.IO.StreamReader]::new($gzip, [System.Text.UTF8Encoding]::new($false))
    try {
        $reader.ReadToEnd()
    }
    finally {
        $reader.Dispose()
        $gzip.Dispose()
        $compressed.Dispose()
    }
}

function ConvertTo-PayloadArgument {
    # A JSON value as win_powershell hands its parameters to a script: an
    # object as a hashtable, whose keys PowerShell compares without regard
    # to case, and an array as object[].
    param(
        [AllowNull()]
        [object]$Value
    )

    if ($Value -is [System.Collections.IDictionary]) {
        $table = @{}
        # GetEnumerator rather than .Keys, which a key named 'keys' would hide.
        foreach ($pair in $Value.GetEnumerator()) {
            $table[$pair.Key] = ConvertTo-PayloadArgument -Value $pair.Value
        }
        return $table
    }
    if ($Value -is [System.Array]) {
        $items = [System.Collections.Generic.List[object]]::new()
        foreach ($item in $Value) {
            $items.Add((ConvertTo-PayloadArgument -Value $item))
        }
        # The comma keeps PowerShell from unrolling the array into its items.
        return , $items.ToArray()
    }
    return $Value
}

function New-PayloadSecret {
    # A secret as the payload's parameter is typed: a PSCredential when the
    # entry has a username, a SecureString otherwise. A SecureString holds
    # at most 65,536 characters; a longer secret fails here, with a message
    # that does not quote it.
    param(
        [Parameter(Mandatory)]
        [System.Collections.Generic.Dictionary[string, object]]$Entry
    )

    if ($Entry.ContainsKey('username')) {
        $password = [System.Net.NetworkCredential]::new('', [string]$Entry['password']).SecurePassword
        return [System.Management.Automation.PSCredential]::new([string]$Entry['username'], $password)
    }
    return [System.Net.NetworkCredential]::new('', [string]$Entry['value']).SecurePassword
}

function ConvertTo-OutputValue {
    # $Ansible.Result as win_powershell returns it: dictionaries, lists and
    # custom objects down to Depth levels, deeper ones as their text, enums
    # by name, dates in ISO 8601, and every value as its .NET base object so
    # that JavaScriptSerializer never sees PowerShell's wrapper.
    param(
        [AllowNull()]
        [object]$Value,

        [Parameter(Mandatory)]
        [int]$Depth
    )

    if ($null -eq $Value) {
        return $null
    }
    $base = $Value.PSObject.BaseObject
    if ($base -is [string] -or $base -is [char] -or $base -is [guid]) {
        return [string]$base
    }
    if ($base -is [bool]) {
        return [bool]$base
    }
    if ($base -is [enum]) {
        return $base.ToString()
    }
    if ($base -is [datetime]) {
        return $base.ToString('o', [System.Globalization.CultureInfo]::InvariantCulture)
    }
    if ($base -is [int] -or $base -is [long] -or $base -is [double] -or $base -is [decimal] -or
        $base -is [byte] -or $base -is [int16] -or $base -is [uint16] -or $base -is [uint32] -or
        $base -is [uint64] -or $base -is [single] -or $base -is [sbyte]) {
        return $base
    }
    if ($Depth -lt 0) {
        return [string]$base
    }
    if ($base -is [System.Collections.IDictionary]) {
        $map = [System.Collections.Generic.Dictionary[string, object]]::new()
        foreach ($pair in $base.GetEnumerator()) {
            $map[[string]$pair.Key] = ConvertTo-OutputValue -Value $pair.Value -Depth ($Depth - 1)
        }
        return $map
    }
    if ($base -is [System.Collections.IEnumerable]) {
        $list = [System.Collections.Generic.List[object]]::new()
        foreach ($item in $base) {
            $list.Add((ConvertTo-OutputValue -Value $item -Depth ($Depth - 1)))
        }
        return , $list
    }
    if ($base -is [System.Management.Automation.PSCustomObject]) {
        $map = [System.Collections.Generic.Dictionary[string, object]]::new()
        foreach ($property in $Value.PSObject.Properties) {
            $map[$property.Name] = ConvertTo-OutputValue -Value $property.Value -Depth ($Depth - 1)
        }
        return $map
    }
    return [string]$base
}

function Get-PayloadException {
    # The payload's own exception. Calling Invoke() from this script, a
    # terminating error of the payload comes back wrapped by PowerShell's
    # method-call binder in a MethodInvocationException ('Exception calling
    # "Invoke" ...'); an error that $ErrorActionPreference 'Stop' made
    # terminating comes as an ActionPreferenceStopException whose error
    # record holds the original. An engine exception's error record holds a
    # ParentContainsErrorRecordException, which stands for that exception
    # itself (RuntimeException.ErrorRecord): the unwrapping stops there.
    param(
        [Parameter(Mandatory)]
        [System.Exception]$Exception
    )

    $current = $Exception
    for ($unwrapped = 0; $unwrapped -lt 8; $unwrapped++) {
        if (($current -is [System.Management.Automation.MethodInvocationException] -or
                $current -is [System.Management.Automation.GetValueInvocationException] -or
                $current -is [System.Management.Automation.SetValueInvocationException]) -and $null -ne $current.InnerException) {
            $current = $current.InnerException
        }
        elseif ($current -is [System.Management.Automation.RuntimeException] -and $null -ne $current.ErrorRecord -and
            $null -ne $current.ErrorRecord.Exception -and
            $current.ErrorRecord.Exception -isnot [System.Management.Automation.ParentContainsErrorRecordException] -and
            -not [object]::ReferenceEquals($current.ErrorRecord.Exception, $current)) {
            $current = $current.ErrorRecord.Exception
        }
        else {
            break
        }
    }
    $current
}

function New-ErrorEntry {
    # An entry of the result's error list, as win_powershell writes one:
    # the error's text, and its exception's message and type.
    param(
        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [string]$Output,

        [Parameter(Mandatory)]
        [System.Exception]$Exception
    )

    $entry = [System.Collections.Generic.Dictionary[string, object]]::new()
    $entry['output'] = $Output
    $details = [System.Collections.Generic.Dictionary[string, object]]::new()
    $details['message'] = $Exception.Message
    $details['type'] = $Exception.GetType().FullName
    $entry['exception'] = $details
    $entry
}

function New-PayloadErrorEntry {
    # The error entry of a failure: its text as the error record gives it,
    # with the ParentContainsErrorRecordException of an engine exception
    # replaced by the exception itself (ErrorRecord(ErrorRecord, Exception)),
    # and the payload's own exception.
    param(
        [Parameter(Mandatory)]
        [System.Exception]$Exception
    )

    $innermost = Get-PayloadException -Exception $Exception
    $output = $innermost.Message
    if ($Exception -is [System.Management.Automation.IContainsErrorRecord] -and $null -ne $Exception.ErrorRecord) {
        $output = [string][System.Management.Automation.ErrorRecord]::new($Exception.ErrorRecord, $Exception)
    }
    New-ErrorEntry -Output $output -Exception $innermost
}

function ConvertTo-AsciiJson {
    # JavaScriptSerializer writes characters above U+007F as they are, and a
    # console host writes standard output in the OEM code page, which the
    # controller does not read them back from: every one is escaped instead.
    param(
        [Parameter(Mandatory)]
        [string]$Json
    )

    # -cnotmatch: case-insensitive matching would compare each character's
    # lower case, and some characters above U+007F lower-case to ASCII.
    if ($Json -cnotmatch '[^\x00-\x7F]') {
        return $Json
    }
    $builder = [System.Text.StringBuilder]::new($Json.Length)
    foreach ($character in $Json.ToCharArray()) {
        if ([int]$character -lt 128) {
            $null = $builder.Append($character)
        }
        else {
            $null = $builder.Append(('\u{0:x4}' -f [int]$character))
        }
    }
    $builder.ToString()
}

$payloadText = $lines[1]
$requestText = $lines[2]
# pslint-secret: $secretText
$secretText = $lines[3]
$lines.Clear()
# The loader's loop variable still holds its last line, the secrets.
$line = $null

# Changed turns true, win_powershell's starting value, only once the payload
# starts: a failure before it changed nothing.
$Ansible = [pscustomobject]@{
    CheckMode = $false
    Verbosity = 0
    Result = @{}
    Diff = @{}
    Changed = $false
    Failed = $false
    Tmpdir = $null
}
$failed = $false
$depth = 2
$warnings = [System.Collections.Generic.List[string]]::new()
$errors = [System.Collections.Generic.List[object]]::new()
$runspace = $null
$pipeline = $null
$secrets = $null
$entry = $null
$converted = $null

# Loaded before the try below so that a failure to load it keeps Windows'
# message; it is part of the .NET Framework 4 that Windows PowerShell 5.1
# runs on.
Add-Type -AssemblyName 'System.Web.Extensions, Version=4.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35'
$serializer = [System.Web.Script.Serialization.JavaScriptSerializer]::new()
$serializer.MaxJsonLength = [int]::MaxValue

try {
    $request = $serializer.DeserializeObject($requestText)
    $depth = [int]$request['Depth']
    $Ansible.CheckMode = [bool]$request['CheckMode']
    $arguments = ConvertTo-PayloadArgument -Value $request['Parameters']

    try {
        $secrets = $serializer.DeserializeObject($secretText)
    }
    catch {
        # Deliberately not the reader's message, and the reader's error taken
        # off $Error, which a PSRP connection keeps from task to task: it
        # quotes the text it could not read, and that text holds the secrets.
        if ($Error.Count -gt 0 -and [object]::ReferenceEquals($Error[0].Exception, $_.Exception)) {
            $Error.RemoveAt(0)
        }
        throw [System.ArgumentException]::new('The secrets sent for the payload could not be read as JSON. Their text is not shown.')
    }
    foreach ($entry in $secrets) {
        # Checked here rather than left to the binding of -Entry, whose
        # message would quote the value it could not convert.
        if ($entry -isnot [System.Collections.Generic.Dictionary[string, object]]) {
            throw [System.ArgumentException]::new('An entry of the secrets sent for the payload is not a JSON object. Its text is not shown.')
        }
        $arguments[[string]$entry['name']] = New-PayloadSecret -Entry $entry
    }
    # The plain text is needed no longer; only the SecureStrings go on.
    $secretText = $null
    $secrets = $null
    $entry = $null

    # Every payload declares SupportsShouldProcess, as win_powershell
    # requires of a script it runs in check mode.
    $arguments['Confirm'] = $false
    $arguments['WhatIf'] = $Ansible.CheckMode

    $runspace = [System.Management.Automation.Runspaces.RunspaceFactory]::CreateRunspace()
    $runspace.Open()
    $runspace.SessionStateProxy.SetVariable('Ansible', $Ansible)
    $runspace.SessionStateProxy.SetVariable('ErrorActionPreference', [System.Management.Automation.ActionPreference]::Stop)
    $pipeline = [System.Management.Automation.PowerShell]::Create()
    $pipeline.Runspace = $runspace
    $null = $pipeline.AddScript((ConvertFrom-CompressedText -Encoded $payloadText)).AddParameters($arguments)
    $Ansible.Changed = $true
    try {
        $null = $pipeline.Invoke()
    }
    catch {
        $failed = $true
        # The reason the pipeline failed is the payload's error itself, not
        # the binder's wrapper around it.
        $reason = $pipeline.InvocationStateInfo.Reason
        if ($null -eq $reason) {
            $reason = $_.Exception
        }
        $errors.Add((New-PayloadErrorEntry -Exception $reason))
    }
    foreach ($record in $pipeline.Streams.Error) {
        $errors.Add((New-ErrorEntry -Output ([string]$record) -Exception $record.Exception))
    }
    foreach ($record in $pipeline.Streams.Warning) {
        $warnings.Add([string]$record.Message)
    }
}
catch {
    $failed = $true
    $errors.Add((New-PayloadErrorEntry -Exception $_.Exception))
}
finally {
    $secretText = $null
    $secrets = $null
    $entry = $null
    $arguments = $null
}

# Converted before the runspace goes (win_powershell converts after it has
# disposed of it): a member the payload defined may need the runspace.
try {
    $converted = ConvertTo-OutputValue -Value $Ansible.Result -Depth $depth
}
catch {
    # The payload ran, and may have changed the host: what it reported as
    # changed still reaches the controller, with why its result did not.
    $failed = $true
    $converted = [System.Collections.Generic.Dictionary[string, object]]::new()
    $errors.Add((New-PayloadErrorEntry -Exception $_.Exception))
}
# A failure to release them changes nothing on the host, and must not cost
# the answer.
foreach ($disposable in @($pipeline, $runspace)) {
    if ($null -eq $disposable) {
        continue
    }
    try {
        $disposable.Dispose()
    }
    catch {
        $warnings.Add("The payload's runspace could not be released: $($_.Exception.Message)")
    }
}

$outcome = [System.Collections.Generic.Dictionary[string, object]]::new()
$outcome['changed'] = $true -eq $Ansible.Changed
$outcome['failed'] = $failed -or $true -eq $Ansible.Failed
$outcome['warning'] = $warnings
$outcome['error'] = $errors
$outcome['result'] = $converted
try {
    ConvertTo-AsciiJson -Json $serializer.Serialize($outcome)
}
catch {
    # Whatever happened, the controller learns whether the payload started.
    '{{"changed":{0},"failed":true,"result":{{}},"warning":[],"error":[{{"output":"The result could not be written as JSON.","exception":{{"message":"The result could not be written as JSON.","type":"System.ArgumentException"}}}}]}}' -f $outcome['changed'].ToString().ToLowerInvariant()
}
