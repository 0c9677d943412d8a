# pkiops-payload: host_snapshot
#
# The snapshot: runs the probe of several of this collection's payloads in
# one PowerShell execution, each exactly as it runs on its own, and returns
# what each returned.
#
# probe: read only. -Scripts maps a payload name to the payload's script, as
#        the controller sends it when the payload runs on its own, but gzip
#        compressed and base64 encoded: PowerShell source compresses several
#        times over, and each script's bytes would otherwise travel in full
#        for every snapshot. -Reads lists the probes to run, each a
#        dictionary with the payload's name (module) and its probe
#        parameters (parameters). Every payload's probe only reads and is
#        safe under -WhatIf, so this mode is too.
#
# A probe that fails is reported with Windows' message and the others still
# run: the task that needs it reads the host itself and fails there, with its
# own context.
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [ValidateSet('probe')]
    [string]$Mode,

    [System.Collections.IDictionary]$Scripts = @{},

    [object[]]$Reads = @()
)

$ErrorActionPreference = 'Stop'

$Ansible.Changed = $false

# pkiops-include: _errors.ps1

function ConvertFrom-CompressedScript {
    # GZipStream reads the gzip format (RFC 1952) that the controller writes.
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

# Each script is compiled once, however many reads use it.
$probes = @{}
foreach ($name in $Scripts.Keys) {
    $probes[$name] = [scriptblock]::Create((ConvertFrom-CompressedScript -Encoded ([string]$Scripts[$name])))
}

$results = [System.Collections.Generic.List[object]]::new()
foreach ($read in $Reads) {
    $entry = @{ result = $null; error = $null }
    try {
        $module = [string]$read['module']
        if (-not $probes.ContainsKey($module)) {
            throw "No script was sent for the payload '$module'."
        }
        $arguments = @{}
        foreach ($key in $read['parameters'].Keys) {
            $arguments[$key] = $read['parameters'][$key]
        }
        $arguments['Mode'] = 'probe'
        # A payload publishes its reading in $Ansible.Result, the object
        # win_powershell gave this script; the payload runs in a child scope
        # and sees the same object.
        $Ansible.Result = @{}
        $null = & $probes[$module] @arguments
        $entry['result'] = $Ansible.Result
    }
    catch {
        $entry['error'] = (Get-UnderlyingException -ErrorRecord $_).Message
    }
    $results.Add($entry)
}

$Ansible.Result = @{ reads = $results }
$Ansible.Changed = $false
