# Pester 5 tests of the collection's payload transport on a real Windows host
# (plugins/plugin_utils/_powershell/transport): the loader as the command line
# of a new powershell.exe and, on its standard input, the runner, a payload,
# the request and the secrets, as plugins/plugin_utils/_windows_task.py sends
# them (loader_script, runner_input). README.md in this folder says how to
# run them.
#
# For its duration the test turns on Module Logging for every module and
# Script Block Logging through their policy values, which a new powershell.exe
# reads when it starts, and puts the previous values back afterwards. A secret
# made at run time must reach the payload and appear in no event of the
# PowerShell operational log; the same secret passed to ConvertTo-SecureString,
# as ansible.windows.win_powershell does, must appear there, which proves the
# search can find it.

Describe 'payload transport' {
    BeforeAll {
        . (Join-Path $PSScriptRoot '_harness.ps1')
        Assert-PayloadTestHost

        $script:Cleanup = New-CleanupList
        $script:PowerShellExe = Join-Path $env:SystemRoot 'System32\WindowsPowerShell\v1.0\powershell.exe'
        $script:TransportDirectory = Join-Path (Get-PayloadDirectory) 'transport'
        $script:Started = [datetime]::Now.AddSeconds(-1)

        function Set-LoggingPolicy {
            # about_Logging_Windows: EnableModuleLogging with ModuleNames '*',
            # and EnableScriptBlockLogging, under the PowerShell policy key.
            $policy = 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\PowerShell'
            foreach ($name in @('ModuleLogging', 'ModuleLogging\ModuleNames', 'ScriptBlockLogging')) {
                $path = Join-Path $policy $name
                if (-not (Test-Path -LiteralPath $path)) {
                    $null = New-Item -Path $path -Force
                    Register-TestCleanup -List $script:Cleanup -Description "remove $path" -Action {
                        param($Key)
                        Remove-Item -LiteralPath $Key -Recurse -Force
                    } -ArgumentList @($path)
                }
            }
            $values = @(
                @{ Path = (Join-Path $policy 'ModuleLogging'); Name = 'EnableModuleLogging'; Value = 1; Type = 'DWord' },
                @{ Path = (Join-Path $policy 'ModuleLogging\ModuleNames'); Name = '*'; Value = '*'; Type = 'String' },
                @{ Path = (Join-Path $policy 'ScriptBlockLogging'); Name = 'EnableScriptBlockLogging'; Value = 1; Type = 'DWord' }
            )
            foreach ($value in $values) {
                $previous = Get-ItemProperty -LiteralPath $value.Path -Name $value.Name -ErrorAction SilentlyContinue
                if ($null -eq $previous) {
                    Register-TestCleanup -List $script:Cleanup -Description "remove $($value.Name)" -Action {
                        param($Key, $Name)
                        Remove-ItemProperty -LiteralPath $Key -Name $Name -ErrorAction SilentlyContinue
                    } -ArgumentList @($value.Path, $value.Name)
                }
                else {
                    Register-TestCleanup -List $script:Cleanup -Description "restore $($value.Name)" -Action {
                        param($Key, $Name, $Old)
                        Set-ItemProperty -LiteralPath $Key -Name $Name -Value $Old
                    } -ArgumentList @($value.Path, $value.Name, $previous.($value.Name))
                }
                $null = New-ItemProperty -LiteralPath $value.Path -Name $value.Name -Value $value.Value -PropertyType $value.Type -Force
            }
        }

        function ConvertTo-CompressedLine {
            # compressed_text() of _windows_task.py: gzip (RFC 1952), then base64.
            param(
                [Parameter(Mandatory)]
                [string]$Text
            )

            $buffer = [System.IO.MemoryStream]::new()
            $gzip = [System.IO.Compression.GZipStream]::new($buffer, [System.IO.Compression.CompressionMode]::Compress)
            $bytes = [System.Text.UTF8Encoding]::new($false).GetBytes($Text)
            $gzip.Write($bytes, 0, $bytes.Length)
            $gzip.Dispose()
            [System.Convert]::ToBase64String($buffer.ToArray())
        }

        function Get-LoaderCommandScript {
            # loader_script() of _windows_task.py, then the shell plugin's
            # _encode_script: comment and blank lines dropped, each line
            # stripped, joined with LF.
            $text = Read-PayloadFile -Path (Join-Path $script:TransportDirectory 'loader.ps1')
            $kept = foreach ($line in $text.Split("`n")) {
                $trimmed = $line.Trim()
                if ($trimmed.Length -gt 0 -and -not $trimmed.StartsWith('#')) {
                    $trimmed
                }
            }
            $kept -join "`n"
        }

        function Invoke-PowerShellProcess {
            # A new powershell.exe with the encoded script as its command line
            # and the lines on its standard input, as WinRM starts it.
            param(
                [Parameter(Mandatory)]
                [string]$Script,

                [string[]]$InputLines = @()
            )

            $encoded = [System.Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($Script))
            $start = [System.Diagnostics.ProcessStartInfo]::new($script:PowerShellExe,
                "-NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand $encoded")
            $start.UseShellExecute = $false
            $start.RedirectStandardInput = $true
            $start.RedirectStandardOutput = $true
            $start.RedirectStandardError = $true
            $process = [System.Diagnostics.Process]::Start($start)
            try {
                $errorRead = $process.StandardError.ReadToEndAsync()
                $outputRead = $process.StandardOutput.ReadToEndAsync()
                foreach ($line in $InputLines) {
                    $process.StandardInput.Write($line + "`r`n")
                }
                $process.StandardInput.Close()
                $process.WaitForExit()
                [pscustomobject]@{
                    ExitCode = $process.ExitCode
                    Output = $outputRead.Result
                    ErrorOutput = $errorRead.Result
                }
            }
            finally {
                $process.Dispose()
            }
        }

        function Invoke-ThroughRunner {
            # One payload run as the action plugins send it; returns the
            # runner's JSON line as hashtables.
            param(
                [Parameter(Mandatory)]
                [string]$PayloadText,

                [System.Collections.IDictionary]$Parameters = @{},

                [object[]]$Secrets = @(),

                [bool]$CheckMode = $false
            )

            $runner = Read-PayloadFile -Path (Join-Path $script:TransportDirectory 'runner.ps1')
            $request = ConvertTo-JsonText -Value @{ Parameters = $Parameters; CheckMode = $CheckMode; Depth = 8 }
            $lines = @(
                (ConvertTo-CompressedLine -Text $runner),
                (ConvertTo-CompressedLine -Text $PayloadText),
                $request,
                (ConvertTo-JsonText -Value $Secrets)
            )
            $run = Invoke-PowerShellProcess -Script (Get-LoaderCommandScript) -InputLines $lines
            $jsonLine = @($run.Output.Split("`n") | Where-Object { $_.Trim().StartsWith('{') }) | Select-Object -Last 1
            if ($null -eq $jsonLine) {
                throw "The runner wrote no JSON line (exit code $($run.ExitCode)): $($run.ErrorOutput) $($run.Output)"
            }
            [pscustomobject]@{
                ExitCode = $run.ExitCode
                Outcome = ConvertFrom-JsonToHashtable -Json $jsonLine.Trim()
            }
        }

        function Find-OperationalEvent {
            # The PowerShell operational log's events since the test began
            # whose message holds the text.
            param(
                [Parameter(Mandatory)]
                [string]$Text
            )

            $filter = @{ LogName = 'Microsoft-Windows-PowerShell/Operational'; StartTime = $script:Started }
            @(Get-WinEvent -FilterHashtable $filter -ErrorAction SilentlyContinue | Where-Object { $_.Message.Contains($Text) })
        }

        # A script that checks what it was given, written for the test: it
        # returns the secret's length and SHA-256, never the secret.
        $script:EchoPayload = @'
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [string]$Mode,

    [System.Security.SecureString]$Secret,

    [pscredential]$Credential,

    [object[]]$Items = @()
)

$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
$plain = [System.Net.NetworkCredential]::new('', $Secret).Password
$digest = [System.Security.Cryptography.SHA256]::Create().ComputeHash([System.Text.Encoding]::UTF8.GetBytes($plain))
$Ansible.Result = @{
    mode = $Mode
    length = $Secret.Length
    sha256 = [System.BitConverter]::ToString($digest).Replace('-', '')
    user = $Credential.UserName
    credential_length = $Credential.Password.Length
    items = $Items
    what_if = [bool]$WhatIfPreference
}
Write-Warning 'a warning from the payload'
'@

        Set-LoggingPolicy
        $script:Secret = 'T!' + [guid]::NewGuid().ToString('N')
    }

    AfterAll {
        Invoke-TestCleanup -List $script:Cleanup
    }

    It 'runs the user_rights probe as the action plugin sends it' {
        $payload = Get-PayloadSource -Name 'user_rights'
        $null = Get-PayloadParseError -Name 'user_rights'
        $run = Invoke-ThroughRunner -PayloadText $payload -Parameters @{
            Mode = 'probe'; Rights = @('SeDenyBatchLogonRight'); Accounts = @('NT AUTHORITY\NETWORK SERVICE')
        }
        $run.ExitCode | Should -Be 0
        $run.Outcome['failed'] | Should -BeFalse
        $run.Outcome['result']['accounts'][0]['sid'] | Should -Be 'S-1-5-20'
        $run.Outcome['result']['holders'].ContainsKey('SeDenyBatchLogonRight') | Should -BeTrue
    }

    It 'hands secrets to the payload as a SecureString and a PSCredential, and returns warnings and lists' {
        $secrets = @(@{ name = 'Secret'; value = $script:Secret }, @{ name = 'Credential'; username = 'CONTOSO\svc'; password = $script:Secret })
        $run = Invoke-ThroughRunner -PayloadText $script:EchoPayload -Parameters @{ Mode = 'probe'; Items = @('one') } -Secrets $secrets
        $digest = [System.Security.Cryptography.SHA256]::Create().ComputeHash([System.Text.Encoding]::UTF8.GetBytes($script:Secret))
        $run.Outcome['failed'] | Should -BeFalse
        $run.Outcome['changed'] | Should -BeFalse
        $run.Outcome['result']['length'] | Should -Be $script:Secret.Length
        $run.Outcome['result']['sha256'] | Should -Be ([System.BitConverter]::ToString($digest).Replace('-', ''))
        $run.Outcome['result']['user'] | Should -Be 'CONTOSO\svc'
        $run.Outcome['result']['credential_length'] | Should -Be $script:Secret.Length
        @($run.Outcome['result']['items']) | Should -Be @('one')
        $run.Outcome['warning'] | Should -Be @('a warning from the payload')
    }

    It 'runs a payload with -WhatIf in check mode' {
        $run = Invoke-ThroughRunner -PayloadText $script:EchoPayload -Parameters @{ Mode = 'probe' } -Secrets @(@{ name = 'Secret'; value = 'x' }) -CheckMode $true
        $run.Outcome['result']['what_if'] | Should -BeTrue
    }

    It 'reports a payload that throws with its exception' {
        $run = Invoke-ThroughRunner -PayloadText "[CmdletBinding(SupportsShouldProcess)]`nparam([string]`$Mode)`n`$Ansible.Changed = `$false`nthrow [System.UnauthorizedAccessException]::new('Access is denied.')" -Parameters @{ Mode = 'apply' }
        $run.Outcome['failed'] | Should -BeTrue
        $run.Outcome['error'][0]['exception']['message'] | Should -Be 'Access is denied.'
        $run.Outcome['error'][0]['exception']['type'] | Should -Be 'System.UnauthorizedAccessException'
    }

    It 'leaves the secret in no event of the PowerShell operational log, where ConvertTo-SecureString leaves it' {
        # The runs above logged their script blocks and cmdlet bindings.
        @(Find-OperationalEvent -Text 'pkiops-transport: runner').Count | Should -BeGreaterThan 0
        @(Find-OperationalEvent -Text $script:Secret).Count | Should -Be 0

        # What win_powershell does with a sensitive parameter: the secret is the pipeline input of ConvertTo-SecureString.
        $probe = 'T!' + [guid]::NewGuid().ToString('N')
        $null = Invoke-PowerShellProcess -Script '$null = $input | ConvertTo-SecureString -AsPlainText -Force' -InputLines @($probe)
        @(Find-OperationalEvent -Text $probe).Count | Should -BeGreaterThan 0
    }
}
