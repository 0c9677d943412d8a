# Pester 5 tests of the private_key_acl payload on a real Windows host
# (plugins/plugin_utils/_powershell/private_key_acl.ps1 with the
# _private_key_acl.ps1 fragment); README.md in this folder says how to run
# them and what they change.
#
# What this file depends on, each in one helper of BeforeAll:
#   probe   parameters StoreName, Thumbprint and Principals; result
#           {certificate: {found, has_private_key, key: {provider, provider_name,
#           container, exportable}, acl: [{sid, name, type, rights,
#           inherited}], and when the key does not open key_error,
#           key_error_code, key_state: missing | denied |
#           missing_or_denied | unavailable, and key_provider_name, the
#           provider the certificate names}, principals: [{input, sid, name,
#           error}], identity: {sid, groups: [sid]} (the connecting token,
#           which the controller's check that a change keeps that account's
#           access to the key reads with the acl)}
#   apply   parameters StoreName, Thumbprint and Operations ({sid, action:
#           set | remove, rights: signed 32-bit mask}); result {applied:
#           [{sid, action, rights}]}. The controller refuses operations that
#           would shut the connecting account out; the payload applies what
#           it is sent, which is how the last context makes such a key.

Describe 'private_key_acl payload' {
    BeforeAll {
        . (Join-Path $PSScriptRoot '_harness.ps1')
        Assert-PayloadTestHost

        $script:Cleanup = New-CleanupList

        function Invoke-KeyAclProbe {
            param(
                [string]$Thumbprint,
                [string[]]$Principals = @(),
                [string]$Record
            )

            Invoke-Payload -Name 'private_key_acl' -Mode 'probe' -Parameters @{ StoreName = 'My'; Thumbprint = $Thumbprint; Principals = $Principals } -Record $Record
        }

        function Invoke-KeyAclApply {
            param(
                [string]$Thumbprint,
                [object[]]$Operations,
                [switch]$CheckMode
            )

            Invoke-Payload -Name 'private_key_acl' -Mode 'apply' -Parameters @{ StoreName = 'My'; Thumbprint = $Thumbprint; Operations = $Operations } -CheckMode:$CheckMode
        }

        function Get-KeyFileSddl {
            param(
                [string]$Path
            )

            (Get-Acl -LiteralPath $Path).Sddl
        }

        function Test-OpensKey {
            # Whether an explicit or inherited allow entry of the reported
            # DACL names one of the SIDs with a bit that reads the key
            # (GENERIC_ALL, GENERIC_READ or FILE_READ_DATA), and no deny
            # entry of theirs holds one: the reading the controller's
            # keep-access check makes of the probe's acl and identity.
            param(
                [AllowEmptyCollection()]
                [object[]]$Acl,

                [string[]]$Sids
            )

            # 0x90000001: GENERIC_READ, GENERIC_ALL, FILE_READ_DATA.
            $opens = [long]2415919105
            $allowed = $false
            foreach ($entry in $Acl) {
                if ($Sids -notcontains ([string]$entry['sid']).ToUpperInvariant()) {
                    continue
                }
                if ((([long]$entry['rights'] -band [long]4294967295) -band $opens) -eq 0) {
                    continue
                }
                if ($entry['type'] -eq 'deny') {
                    return $false
                }
                $allowed = $true
            }
            $allowed
        }

        function Get-IdentitySid {
            # The user SID and the group SIDs of a probe's identity, upper case.
            param(
                [System.Collections.IDictionary]$Identity
            )

            $sids = [System.Collections.Generic.List[string]]::new()
            $sids.Add(([string]$Identity['sid']).ToUpperInvariant())
            foreach ($group in $Identity['groups']) {
                $sids.Add(([string]$group).ToUpperInvariant())
            }
            , $sids.ToArray()
        }

        $current = [System.Security.Principal.WindowsIdentity]::GetCurrent()
        try {
            $script:ConnectingSid = $current.User.Value
        }
        finally {
            $current.Dispose()
        }
        $script:User = New-TestLocalUser -Cleanup $script:Cleanup
        $prefix = New-TestName -Prefix 'pkiops-acl-'
        $script:Certificates = @{
            cng = New-TestCertificate -Subject "$prefix cng" -Cleanup $script:Cleanup
            capi = New-TestCertificate -Subject "$prefix capi" -Provider 'capi' -Cleanup $script:Cleanup
        }
        $script:ProviderNames = @{
            cng = 'Microsoft Software Key Storage Provider'
            capi = 'Microsoft Enhanced RSA and AES Cryptographic Provider'
        }
    }

    AfterAll {
        Invoke-TestCleanup -List $script:Cleanup
    }

    It 'parses with Windows PowerShell''s own parser' {
        $errors = Get-PayloadParseError -Name 'private_key_acl'
        $errors.Count | Should -Be 0 -Because ($errors -join "`n")
    }

    It 'probe reports a certificate that is not in the store' {
        $missing = [guid]::NewGuid().ToString('N').ToUpperInvariant() + '00000000'

        $run = Invoke-KeyAclProbe -Thumbprint $missing

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Result['certificate']['found'] | Should -BeFalse
        $run.Result['certificate']['has_private_key'] | Should -BeFalse
    }

    It 'probe resolves .\<group> and COMPUTER\<group> to the built-in group, by the name Windows gives the built-in domain in this language' {
        # BUILTIN\Administrators in English, VORDEFINIERT\Administratoren in German.
        $administrators = Get-LocalName -Sid 'S-1-5-32-544'
        $group = $administrators.Substring($administrators.IndexOf('\') + 1)
        $principals = @(".\$group", "$env:COMPUTERNAME\$group")

        $run = Invoke-KeyAclProbe -Thumbprint $script:Certificates['cng'].Thumbprint -Principals $principals

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Result['principals'].Count | Should -Be 2
        foreach ($entry in $run.Result['principals']) {
            $entry['sid'] | Should -BeExactly 'S-1-5-32-544' -Because "$($entry['input']) is the local group: $($entry['error'])"
            $entry['name'] | Should -BeExactly $administrators
            $entry['error'] | Should -BeNullOrEmpty
        }
    }

    Context 'a <_> key' -ForEach @('cng', 'capi') {
        BeforeAll {
            $script:Provider = $_
            $script:Certificate = $script:Certificates[$script:Provider]
            $script:KeyFile = (Get-PrivateKeyInfo -Certificate $script:Certificate).File
        }

        It 'the key is kept by the provider asked for, in the file whose DACL is the key''s' {
            (Get-PrivateKeyInfo -Certificate $script:Certificate).Provider | Should -Be $script:Provider
            Test-Path -LiteralPath $script:KeyFile | Should -BeTrue
        }

        It 'probe reports the provider, the container and the key''s DACL as the key file''s ACL has it' {
            $run = Invoke-KeyAclProbe -Thumbprint $script:Certificate.Thumbprint -Principals @($script:User.Account) -Record "probe-$($script:Provider)"

            $run.Failed | Should -BeFalse -Because $run.ErrorText
            $run.Changed | Should -BeFalse
            $certificate = $run.Result['certificate']
            $certificate['found'] | Should -BeTrue
            $certificate['has_private_key'] | Should -BeTrue
            $certificate['key']['provider'] | Should -BeExactly $script:Provider
            $certificate['key']['provider_name'] | Should -BeExactly $script:ProviderNames[$script:Provider]
            $certificate['key']['container'] | Should -Not -BeNullOrEmpty
            $certificate['key']['exportable'] | Should -BeTrue -Because 'New-SelfSignedCertificate made it with KeyExportPolicy Exportable'
            Test-IsList -Value $certificate['acl'] | Should -BeTrue
            Get-AclSummary -Reported $certificate['acl'] | Should -BeExactly (Get-AclSummary -Path $script:KeyFile)
            Get-ReportedAccessLevel -Acl $certificate['acl'] -Sid 'S-1-5-18' | Should -Be 'full_control'
            $run.Result['principals'][0]['sid'] | Should -Be $script:User.Sid
        }

        It 'probe reports the connecting account, which opens the key through an entry of the reported DACL that names it or one of its groups' {
            $run = Invoke-KeyAclProbe -Thumbprint $script:Certificate.Thumbprint

            $run.Failed | Should -BeFalse -Because $run.ErrorText
            $identity = $run.Result['identity']
            $identity['sid'] | Should -BeExactly $script:ConnectingSid
            Test-IsList -Value $identity['groups'] | Should -BeTrue
            $identity['groups'] -contains 'S-1-5-32-544' | Should -BeTrue -Because 'these tests run elevated, with BUILTIN\Administrators enabled'
            # The probe opened the key as this account; the controller's
            # check must find the entry that let it.
            $run.Result['certificate']['key'] | Should -Not -BeNullOrEmpty
            Test-OpensKey -Acl $run.Result['certificate']['acl'] -Sids (Get-IdentitySid -Identity $identity) | Should -BeTrue
        }

        It 'apply in check mode (-WhatIf) writes no ACL' {
            $before = Get-KeyFileSddl -Path $script:KeyFile

            $run = Invoke-KeyAclApply -Thumbprint $script:Certificate.Thumbprint -Operations @(New-KeyAclOperation -Sid $script:User.Sid -Access 'read') -CheckMode

            $run.Failed | Should -BeFalse -Because $run.ErrorText
            $run.Changed | Should -BeFalse
            $run.Result['applied'].Count | Should -Be 0
            Get-KeyFileSddl -Path $script:KeyFile | Should -BeExactly $before
        }

        It 'apply validates every operation before it writes' {
            $before = Get-KeyFileSddl -Path $script:KeyFile
            $operations = @(
                (New-KeyAclOperation -Sid $script:User.Sid -Access 'read'),
                @{ sid = $script:User.Sid; action = 'set'; rights = 0 }
            )

            $run = Invoke-KeyAclApply -Thumbprint $script:Certificate.Thumbprint -Operations $operations

            $run.Failed | Should -BeTrue
            $run.Changed | Should -BeFalse
            $run.ErrorText | Should -Match 'rights must be a non-zero access mask'
            Get-KeyFileSddl -Path $script:KeyFile | Should -BeExactly $before
        }

        It 'apply grants read, which the key file and the probe then show: nothing is left to change' {
            $run = Invoke-KeyAclApply -Thumbprint $script:Certificate.Thumbprint -Operations @(New-KeyAclOperation -Sid $script:User.Sid -Access 'read')

            $run.Failed | Should -BeFalse -Because $run.ErrorText
            $run.Changed | Should -BeTrue
            $run.Result['applied'].Count | Should -Be 1
            $run.Result['applied'][0]['sid'] | Should -BeExactly $script:User.Sid
            $run.Result['applied'][0]['action'] | Should -BeExactly 'set'
            $run.Result['applied'][0]['rights'] | Should -Be -2146303863
            Get-KeyFileAccessLevel -Path $script:KeyFile -Sid $script:User.Sid | Should -Be 'read'
            $probe = Invoke-KeyAclProbe -Thumbprint $script:Certificate.Thumbprint -Record "after-read-$($script:Provider)"
            Get-ReportedAccessLevel -Acl $probe.Result['certificate']['acl'] -Sid $script:User.Sid | Should -Be 'read'
            Get-AclSummary -Reported $probe.Result['certificate']['acl'] | Should -BeExactly (Get-AclSummary -Path $script:KeyFile)
        }

        It 'apply raises read to full control with a single entry for the account' {
            $run = Invoke-KeyAclApply -Thumbprint $script:Certificate.Thumbprint -Operations @(New-KeyAclOperation -Sid $script:User.Sid -Access 'full_control')

            $run.Failed | Should -BeFalse -Because $run.ErrorText
            Get-KeyFileAccessLevel -Path $script:KeyFile -Sid $script:User.Sid | Should -Be 'full_control'
            $probe = Invoke-KeyAclProbe -Thumbprint $script:Certificate.Thumbprint
            $mine = @($probe.Result['certificate']['acl'] | Where-Object { $_['sid'] -eq $script:User.Sid -and $_['type'] -eq 'allow' -and -not $_['inherited'] })
            $mine.Count | Should -Be 1
            Get-KeyAccessLevel -Mask $mine[0]['rights'] | Should -Be 'full_control'
        }

        It 'apply removes the account''s entries and leaves the others' {
            $before = Invoke-KeyAclProbe -Thumbprint $script:Certificate.Thumbprint
            $others = @($before.Result['certificate']['acl'] | Where-Object { $_['sid'] -ne $script:User.Sid })

            $run = Invoke-KeyAclApply -Thumbprint $script:Certificate.Thumbprint -Operations @(New-KeyAclOperation -Sid $script:User.Sid -Access 'remove')

            $run.Failed | Should -BeFalse -Because $run.ErrorText
            $run.Changed | Should -BeTrue
            Get-KeyFileAccessLevel -Path $script:KeyFile -Sid $script:User.Sid | Should -Be 'none'
            $after = Invoke-KeyAclProbe -Thumbprint $script:Certificate.Thumbprint
            Get-ReportedAccessLevel -Acl $after.Result['certificate']['acl'] -Sid $script:User.Sid | Should -Be 'none'
            Get-AclSummary -Reported $after.Result['certificate']['acl'] | Should -BeExactly (Get-AclSummary -Reported $others)
        }
    }

    Context 'a <_> key whose ACL no longer lets BUILTIN\Administrators or the connecting account in' -ForEach @('cng', 'capi') {
        BeforeAll {
            $script:ShutOutProvider = $_
            $script:ShutOut = New-TestCertificate -Subject ((New-TestName -Prefix 'pkiops-acl-') + " shut out $($script:ShutOutProvider)") -Provider $script:ShutOutProvider -Cleanup $script:Cleanup
            $script:ShutOutFile = (Get-PrivateKeyInfo -Certificate $script:ShutOut).File
            # Registered after the certificate, so it runs first: the
            # certificate without -DeleteKey, which could not open the key,
            # then the key's file itself.
            Register-TestCleanup -List $script:Cleanup -Description "key file $($script:ShutOutFile)" -ArgumentList @($script:ShutOut.Thumbprint, $script:ShutOutFile) -Action {
                param($Thumbprint, $KeyFile)
                $path = "Cert:\LocalMachine\My\$Thumbprint"
                if (Test-Path -LiteralPath $path) {
                    Remove-Item -LiteralPath $path
                }
                if (Test-Path -LiteralPath $KeyFile) {
                    Remove-Item -LiteralPath $KeyFile -Force
                }
            }
            $script:ShutOutBefore = Invoke-KeyAclProbe -Thumbprint $script:ShutOut.Thumbprint
            # The operations the controller refuses to plan: both entries
            # through which the account these tests run as opens the key.
            $operations = @(
                (New-KeyAclOperation -Sid 'S-1-5-32-544' -Access 'remove'),
                (New-KeyAclOperation -Sid $script:ConnectingSid -Access 'remove')
            )
            $script:ShutOutApply = Invoke-KeyAclApply -Thumbprint $script:ShutOut.Thumbprint -Operations $operations
        }

        It 'the connecting account opened the key before, through BUILTIN\Administrators or its own entry' {
            $script:ShutOutBefore.Failed | Should -BeFalse -Because $script:ShutOutBefore.ErrorText
            $acl = $script:ShutOutBefore.Result['certificate']['acl']
            Test-OpensKey -Acl $acl -Sids (Get-IdentitySid -Identity $script:ShutOutBefore.Result['identity']) | Should -BeTrue
            Test-OpensKey -Acl $acl -Sids @('S-1-5-32-544', $script:ConnectingSid.ToUpperInvariant()) | Should -BeTrue
        }

        It 'apply removes both from the key''s DACL' {
            $script:ShutOutApply.Failed | Should -BeFalse -Because $script:ShutOutApply.ErrorText
            $script:ShutOutApply.Changed | Should -BeTrue
            $script:ShutOutApply.Result['applied'].Count | Should -Be 2
        }

        It 'probe then reports that the key does not open, as denied or missing_or_denied and never as missing, while its file is still there' {
            $run = Invoke-KeyAclProbe -Thumbprint $script:ShutOut.Thumbprint -Record "administrators-shut-out-$($script:ShutOutProvider)"

            $run.Failed | Should -BeFalse -Because $run.ErrorText
            $certificate = $run.Result['certificate']
            $certificate['found'] | Should -BeTrue
            $certificate['has_private_key'] | Should -BeTrue
            $certificate['key'] | Should -BeNullOrEmpty
            $certificate['key_error'] | Should -Not -BeNullOrEmpty
            $code = $certificate['key_error_code']
            ($code -is [int] -or $code -is [long]) | Should -BeTrue -Because "key_error_code is a number, not '$code'"
            # 'missing' would let pfx_import import the PFX again and leave
            # this key behind with nothing referring to it.
            $certificate['key_state'] | Should -BeIn @('denied', 'missing_or_denied') -Because ('Windows reported 0x{0:X8}: {1}' -f [int]$code, $certificate['key_error'])
            $run.Result['identity']['sid'] | Should -BeExactly $script:ConnectingSid
            Test-Path -LiteralPath $script:ShutOutFile | Should -BeTrue
        }

        It 'probe names the provider of the key that does not open, read from the certificate: the provider the key was made in' {
            $run = Invoke-KeyAclProbe -Thumbprint $script:ShutOut.Thumbprint

            $run.Failed | Should -BeFalse -Because $run.ErrorText
            $run.Result['certificate']['key'] | Should -BeNullOrEmpty
            $run.Result['certificate']['key_provider_name'] | Should -BeExactly $script:ProviderNames[$script:ShutOutProvider]
            # As the key itself named its provider while it still opened.
            $run.Result['certificate']['key_provider_name'] | Should -BeExactly $script:ShutOutBefore.Result['certificate']['key']['provider_name']
        }
    }
}
