# pkiops-transport: loader
#
# The command line of a payload run without become: powershell.exe
# -EncodedCommand with this script, whose standard input carries the runner
# (runner.ps1) and what the runner needs. It stays short because a command
# line may hold 8,191 characters and -EncodedCommand takes about 2.7 times the
# script's length; the controller drops these comment lines before encoding.
#
# Standard input is read through $input, the enumerator PowerShell gives a
# script for its input: no cmdlet receives it, so Module Logging (event 4103)
# records none of it. Line 1 is the runner, gzip compressed (RFC 1952) and
# base64 encoded; the runner reads the other lines from $lines, since it is
# dot-sourced into this scope.
#
# API reference: about_Automatic_Variables ($input), Convert.FromBase64String,
# GZipStream, StreamReader, ScriptBlock.Create, about_Scopes (dot sourcing).
$ErrorActionPreference = 'Stop'
$lines = [System.Collections.Generic.List[string]]::new()
foreach ($line in $input) {
    $lines.Add([string]$line)
}
$compressedRunner = [System.IO.MemoryStream]::new([System.Convert]::FromBase64String($lines[0]))
$runnerStream = [System.IO.Compression.GZipStream]::new($compressedRunner, [System.IO.Compression.CompressionMode]::Decompress)
$runnerReader = [System.IO.StreamReader]::new($runnerStream, [System.Text.UTF8Encoding]::new($false))
$runnerText = $runnerReader.ReadToEnd()
$runnerReader.Dispose()
. ([scriptblock]::Create($runnerText))
