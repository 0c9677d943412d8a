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
# It writes one line of JSON to standard output, with the keys of
# win_powershell's result that the action plugins read: changed, failed,
# result, warning and error.
#
# Why not win_powershell: it turns each sensitive parameter into a
# SecureString with ConvertTo-SecureString, and Module Logging (event 4103)
# records that cmdlet's -String value. Here both JSON lines are read with
# .NET (JavaScriptSerializer), each secret becomes a SecureString or a
# PSCredential through .NET (NetworkCredential.SecurePassword, the
# PSCredential constructor), and the payload receives it as a parameter of a
# script block this script compiled, which Module Logging does not record:
# it records the commands of modules. Script Block Logging (event 4104)
# records the loader, this script and the payload, none of which holds a
# secret; transcription records the output, which holds none either.
#
# API reference: JavaScriptSerializer (DeserializeObject, Serialize,
# MaxJsonLength), NetworkCredential(String, String) and SecurePassword,
# PSCredential(String, SecureString), GZipStream, ScriptBlock.Create,
# about_CommonParameters (-WhatIf, -WarningAction, -WarningVariable).

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
        foreach ($key in $Value.Keys) {
            $table[$key] = ConvertTo-PayloadArgument -Value $Value[$key]
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
        foreach ($key in $base.Keys) {
            $map[[string]$key] = ConvertTo-OutputValue -Value $base[$key] -Depth ($Depth - 1)
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

$payloadText = $lines[1]
$requestText = $lines[2]
# pslint-secret: $secretText
$secretText = $lines[3]
$lines.Clear()

$Ansible = [pscustomobject]@{
    Changed = $true
    Result = @{}
}
$failed = $false
$depth = 2
$warnings = [System.Collections.Generic.List[string]]::new()
$errors = [System.Collections.Generic.List[object]]::new()
$payloadWarnings = $null

# Loaded before the try below so that a failure to load it keeps Windows'
# message; it is part of the .NET Framework 4 that Windows PowerShell 5.1
# runs on.
Add-Type -AssemblyName 'System.Web.Extensions, Version=4.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35'
$serializer = [System.Web.Script.Serialization.JavaScriptSerializer]::new()
$serializer.MaxJsonLength = [int]::MaxValue

try {
    $request = $serializer.DeserializeObject($requestText)
    $depth = [int]$request['Depth']
    $arguments = ConvertTo-PayloadArgument -Value $request['Parameters']

    $secrets = $null
    try {
        $secrets = $serializer.DeserializeObject($secretText)
    }
    catch {
        # Deliberately not the reader's message: it quotes the text it could
        # not read, and that text holds the secrets.
        throw [System.ArgumentException]::new('The secrets sent for the payload could not be read as JSON. Their text is not shown.')
    }
    foreach ($entry in $secrets) {
        $arguments[[string]$entry['name']] = New-PayloadSecret -Entry $entry
    }

    if ($request['CheckMode']) {
        # Every payload declares SupportsShouldProcess, as win_powershell
        # requires of a script it runs in check mode.
        $arguments['WhatIf'] = $true
    }
    # Warnings reach the variable even when they are not displayed, and
    # stay there when the payload fails after writing them.
    $arguments['WarningAction'] = 'SilentlyContinue'
    $arguments['WarningVariable'] = 'payloadWarnings'

    $payload = [scriptblock]::Create((ConvertFrom-CompressedText -Encoded $payloadText))
    $null = & $payload @arguments
}
catch {
    $failed = $true
    $exception = $_.Exception
    $record = [System.Collections.Generic.Dictionary[string, object]]::new()
    $record['output'] = [string]$_
    $record['exception'] = [System.Collections.Generic.Dictionary[string, object]]::new()
    $record['exception']['message'] = $exception.Message
    $record['exception']['type'] = $exception.GetType().FullName
    $errors.Add($record)
}
foreach ($warning in @($payloadWarnings)) {
    if ($null -ne $warning) {
        $warnings.Add([string]$warning.Message)
    }
}

$outcome = [System.Collections.Generic.Dictionary[string, object]]::new()
$outcome['changed'] = [bool]$Ansible.Changed
$outcome['failed'] = $failed
$outcome['result'] = ConvertTo-OutputValue -Value $Ansible.Result -Depth $depth
$outcome['warning'] = $warnings
$outcome['error'] = $errors
$serializer.Serialize($outcome)
