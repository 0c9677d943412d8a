# Pester 5 tests of the user_rights payload on a real Windows host
# (plugins/plugin_utils/_powershell/user_rights.ps1); README.md in this folder
# says how to run them and what they change.
#
# What this file depends on, each in one helper of BeforeAll:
#   probe   parameters Rights (right constants) and Accounts (account
#           references); result {holders: {<right>: [{sid, name}]} (the
#           payload asks the shared LSA fragment's Get-RightHolders for
#           names with -IncludeNames; readiness_info's holders are SIDs
#           only), accounts: [{input, sid, name, error}]}
#   apply   parameter Operations, each {right, action: add | remove, sid};
#           result {applied: [{right, action, sid}]}

Describe 'user_rights payload' {
    BeforeAll {
        . (Join-Path $PSScriptRoot '_harness.ps1')
        Assert-PayloadTestHost

        $script:Cleanup = New-CleanupList
        # Deny rights: giving one to a throwaway account grants nothing to
        # anybody, and a member server has no holder of either by default, so
        # a list of a single holder goes through win_powershell's conversion.
        $script:Rights = @('SeDenyBatchLogonRight', 'SeDenyServiceLogonRight')

        function Invoke-UserRightsProbe {
            param(
                [string[]]$Rights,
                [string[]]$Accounts,
                [string]$Record
            )

            Invoke-Payload -Name 'user_rights' -Mode 'probe' -Parameters @{ Rights = $Rights; Accounts = $Accounts } -Record $Record
        }

        function Invoke-UserRightsApply {
            param(
                [object[]]$Operations,
                [switch]$CheckMode
            )

            Invoke-Payload -Name 'user_rights' -Mode 'apply' -Parameters @{ Operations = $Operations } -CheckMode:$CheckMode
        }

        function New-UserRightOperation {
            param(
                [string]$Right,
                [string]$Action,
                [string]$Sid
            )

            @{ right = $Right; action = $Action; sid = $Sid }
        }

        function Get-ProbeHolderSid {
            # The SIDs the probe reports for a right, upper-case and sorted.
            param(
                [System.Collections.IDictionary]$Result,
                [string]$Right
            )

            $sids = [System.Collections.Generic.List[string]]::new()
            foreach ($holder in $Result['holders'][$Right]) {
                $sids.Add(([string]$holder['sid']).ToUpperInvariant())
            }
            $sids.Sort([System.StringComparer]::Ordinal)
            , $sids
        }

        function Test-SeceditHolder {
            # Whether secedit's export of the policy lists Sid as a holder of Right.
            param(
                [string]$Right,
                [string]$Sid
            )

            (Get-SeceditRightHolder -Rights @($Right))[$Right] -contains $Sid.ToUpperInvariant()
        }

        function Remove-TestUserRight {
            # Takes every right of this file away from the account again,
            # through the payload (LSA), before the account is deleted: a
            # right held by a deleted account's SID stays in the policy.
            param(
                [string]$Sid
            )

            $probe = Invoke-UserRightsProbe -Rights $script:Rights -Accounts @()
            if ($probe.Failed) {
                throw "cannot read the rights to remove them: $($probe.ErrorText)"
            }
            $operations = [System.Collections.Generic.List[object]]::new()
            foreach ($right in $script:Rights) {
                if ((Get-ProbeHolderSid -Result $probe.Result -Right $right) -contains $Sid.ToUpperInvariant()) {
                    $operations.Add((New-UserRightOperation -Right $right -Action 'remove' -Sid $Sid))
                }
            }
            if ($operations.Count -gt 0) {
                $removal = Invoke-UserRightsApply -Operations $operations.ToArray()
                if ($removal.Failed) {
                    throw "cannot remove the rights: $($removal.ErrorText)"
                }
            }
        }

        $script:User = New-TestLocalUser -Cleanup $script:Cleanup
        Register-TestCleanup -List $script:Cleanup -Description "rights of $($script:User.Name)" -ArgumentList @($script:User.Sid) -Action {
            param($Sid)
            Remove-TestUserRight -Sid $Sid
        }
    }

    AfterAll {
        Invoke-TestCleanup -List $script:Cleanup
    }

    It 'parses with Windows PowerShell''s own parser' {
        $errors = Get-PayloadParseError -Name 'user_rights'
        $errors.Count | Should -Be 0 -Because ($errors -join "`n")
    }

    It 'probe resolves .\name, COMPUTER\name, a SID, .\<built-in group> and a well-known name, and reports an unknown name without failing' {
        $administrators = (Get-LocalName -Sid 'S-1-5-32-544').Split('\')[-1]
        $networkService = Get-LocalName -Sid 'S-1-5-20'
        $unknown = New-TestName -Prefix 'pkmissing'
        $accounts = @(".\$($script:User.Name)", $script:User.Account, $script:User.Sid, ".\$administrators", $networkService, $unknown)

        $run = Invoke-UserRightsProbe -Rights $script:Rights -Accounts $accounts -Record 'accounts-and-holders'

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeFalse
        Test-IsList -Value $run.Result['accounts'] | Should -BeTrue
        $run.Result['accounts'].Count | Should -Be $accounts.Count
        for ($index = 0; $index -lt $accounts.Count; $index++) {
            $run.Result['accounts'][$index]['input'] | Should -BeExactly $accounts[$index]
        }
        foreach ($entry in $run.Result['accounts'][0..2]) {
            $entry['sid'] | Should -Be $script:User.Sid
            $entry['name'] | Should -Be $script:User.Account
            $entry['error'] | Should -BeNullOrEmpty
        }
        $run.Result['accounts'][3]['sid'] | Should -Be 'S-1-5-32-544'
        $run.Result['accounts'][4]['sid'] | Should -Be 'S-1-5-20'
        $run.Result['accounts'][5]['sid'] | Should -BeNullOrEmpty
        $run.Result['accounts'][5]['error'] | Should -Not -BeNullOrEmpty
    }

    It 'the built-in domain the payloads retry a computer-qualified group in is named as Windows names it in this language (Get-BuiltinDomainName), and .\<group> and COMPUTER\<group> resolve through it' {
        # BUILTIN\Administrators in English, VORDEFINIERT\Administratoren in
        # German: the name NTAccount translation gives S-1-5-32-544, read
        # here without the payload's code.
        $administrators = Get-LocalName -Sid 'S-1-5-32-544'
        $separator = $administrators.IndexOf('\')
        $domain = $administrators.Substring(0, $separator)
        $group = $administrators.Substring($separator + 1)
        $fragments = @('_errors.ps1', '_principals.ps1')

        $builtin = @(Invoke-PayloadFragment -Fragment $fragments -Script 'Get-BuiltinDomainName')
        # The group's name reaches the runspace as a variable, not quoted
        # into the script's text.
        $resolveBoth = @'
(ConvertTo-PrincipalSid -Reference (".\" + $Group)).Value
(ConvertTo-PrincipalSid -Reference ($env:COMPUTERNAME + "\" + $Group)).Value
'@
        $resolved = @(Invoke-PayloadFragment -Fragment $fragments -Variables @{ Group = $group } -Script $resolveBoth)
        $probe = Invoke-UserRightsProbe -Rights $script:Rights -Accounts @(".\$group", "$env:COMPUTERNAME\$group")

        $builtin.Count | Should -Be 1
        [string]$builtin[0] | Should -BeExactly $domain
        ($resolved -join ',') | Should -BeExactly 'S-1-5-32-544,S-1-5-32-544'
        $probe.Failed | Should -BeFalse -Because $probe.ErrorText
        foreach ($entry in $probe.Result['accounts']) {
            $entry['sid'] | Should -BeExactly 'S-1-5-32-544' -Because "$($entry['input']) is the local group: $($entry['error'])"
            $entry['name'] | Should -BeExactly $administrators
        }
    }

    It 'probe reports the same holders as secedit''s export of the policy, each right as a list' {
        $run = Invoke-UserRightsProbe -Rights $script:Rights -Accounts @()
        $secedit = Get-SeceditRightHolder -Rights $script:Rights

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        foreach ($right in $script:Rights) {
            Test-IsList -Value $run.Result['holders'][$right] | Should -BeTrue -Because "the holders of $right are a list"
            $expected = [System.Collections.Generic.List[string]]::new($secedit[$right])
            $expected.Sort([System.StringComparer]::Ordinal)
            (Get-ProbeHolderSid -Result $run.Result -Right $right) -join ',' | Should -Be ($expected -join ',')
        }
    }

    It 'probe names every holder next to its SID, as the diff shows it' {
        $run = Invoke-UserRightsProbe -Rights @('SeBatchLogonRight') -Accounts @()

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $holders = @($run.Result['holders']['SeBatchLogonRight'])
        $holders.Count | Should -BeGreaterThan 0 -Because 'BUILTIN\Administrators holds SeBatchLogonRight on a server'
        foreach ($holder in $holders) {
            $holder -is [System.Collections.IDictionary] | Should -BeTrue
            $holder.ContainsKey('name') | Should -BeTrue -Because "holder $($holder['sid']) has a name"
        }
        $administrators = @($holders | Where-Object { $_['sid'] -eq 'S-1-5-32-544' })
        $administrators.Count | Should -Be 1
        $administrators[0]['name'] | Should -Be (Get-LocalName -Sid 'S-1-5-32-544')
    }

    It 'apply in check mode (-WhatIf) grants nothing' {
        $operations = @(New-UserRightOperation -Right $script:Rights[0] -Action 'add' -Sid $script:User.Sid)

        $run = Invoke-UserRightsApply -Operations $operations -CheckMode

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeFalse
        Test-IsList -Value $run.Result['applied'] | Should -BeTrue
        $run.Result['applied'].Count | Should -Be 0
        Test-SeceditHolder -Right $script:Rights[0] -Sid $script:User.Sid | Should -BeFalse
        $probe = Invoke-UserRightsProbe -Rights $script:Rights -Accounts @()
        (Get-ProbeHolderSid -Result $probe.Result -Right $script:Rights[0]) -contains $script:User.Sid | Should -BeFalse
    }

    It 'apply validates every operation before the first change' {
        $operations = @(
            (New-UserRightOperation -Right $script:Rights[0] -Action 'add' -Sid $script:User.Sid),
            (New-UserRightOperation -Right $script:Rights[1] -Action 'grant' -Sid $script:User.Sid)
        )

        $run = Invoke-UserRightsApply -Operations $operations

        $run.Failed | Should -BeTrue
        $run.Changed | Should -BeFalse
        $run.ErrorText | Should -Match "action must be 'add' or 'remove'"
        Test-SeceditHolder -Right $script:Rights[0] -Sid $script:User.Sid | Should -BeFalse
    }

    It 'apply refuses an SDDL alias where a SID string belongs' {
        $run = Invoke-UserRightsApply -Operations @(New-UserRightOperation -Right $script:Rights[0] -Action 'add' -Sid 'BA')

        $run.Failed | Should -BeTrue
        $run.Changed | Should -BeFalse
        $run.ErrorText | Should -Match 'sid must be a SID string'
    }

    It 'apply of a right LSA does not know fails with the LSA call named, and changes nothing' {
        $run = Invoke-UserRightsApply -Operations @(New-UserRightOperation -Right 'SeNoSuchPkiopsRight' -Action 'add' -Sid $script:User.Sid)

        $run.Failed | Should -BeTrue
        $run.Changed | Should -BeFalse
        $run.ErrorText | Should -Match 'LsaAddAccountRights'
        $run.Result['applied'].Count | Should -Be 0
    }

    It 'apply grants each right, and secedit and the probe then show the SID among the holders' {
        $operations = @(foreach ($right in $script:Rights) {
                New-UserRightOperation -Right $right -Action 'add' -Sid $script:User.Sid
            })

        $run = Invoke-UserRightsApply -Operations $operations

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        $run.Result['applied'].Count | Should -Be $script:Rights.Count
        for ($index = 0; $index -lt $script:Rights.Count; $index++) {
            $run.Result['applied'][$index]['right'] | Should -BeExactly $script:Rights[$index]
            $run.Result['applied'][$index]['action'] | Should -BeExactly 'add'
            $run.Result['applied'][$index]['sid'] | Should -BeExactly $script:User.Sid
        }
        foreach ($right in $script:Rights) {
            # The security database takes an LSA change asynchronously.
            Wait-Condition -Condition { Test-SeceditHolder -Right $right -Sid $script:User.Sid } | Should -BeTrue -Because "secedit shows $right held"
        }
    }

    It 'probe after the grant shows each right held exactly once, with the account''s name: nothing is left to add' {
        $run = Invoke-UserRightsProbe -Rights $script:Rights -Accounts @($script:User.Account) -Record 'after-grant'

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        foreach ($right in $script:Rights) {
            Test-IsList -Value $run.Result['holders'][$right] | Should -BeTrue
            $mine = @($run.Result['holders'][$right] | Where-Object { $_['sid'] -eq $script:User.Sid })
            $mine.Count | Should -Be 1
            $mine[0]['name'] | Should -Be $script:User.Account
        }
    }

    It 'apply in check mode (-WhatIf) removes nothing' {
        $run = Invoke-UserRightsApply -Operations @(New-UserRightOperation -Right $script:Rights[1] -Action 'remove' -Sid $script:User.Sid) -CheckMode

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeFalse
        Test-SeceditHolder -Right $script:Rights[1] -Sid $script:User.Sid | Should -BeTrue
    }

    It 'apply removes one right and leaves the other' {
        $run = Invoke-UserRightsApply -Operations @(New-UserRightOperation -Right $script:Rights[1] -Action 'remove' -Sid $script:User.Sid)

        $run.Failed | Should -BeFalse -Because $run.ErrorText
        $run.Changed | Should -BeTrue
        $run.Result['applied'].Count | Should -Be 1
        $run.Result['applied'][0]['action'] | Should -BeExactly 'remove'
        Wait-Condition -Condition { -not (Test-SeceditHolder -Right $script:Rights[1] -Sid $script:User.Sid) } | Should -BeTrue -Because 'secedit no longer shows the removed right'
        Test-SeceditHolder -Right $script:Rights[0] -Sid $script:User.Sid | Should -BeTrue
        $probe = Invoke-UserRightsProbe -Rights $script:Rights -Accounts @()
        (Get-ProbeHolderSid -Result $probe.Result -Right $script:Rights[1]) -contains $script:User.Sid | Should -BeFalse
        (Get-ProbeHolderSid -Result $probe.Result -Right $script:Rights[0]) -contains $script:User.Sid | Should -BeTrue
    }
}
