# Shared by the payloads that take account names: resolving a name, UPN or
# SID string to a SID the way Windows administrators write them, and back to
# the name Windows shows. Needs _errors.ps1.
#
# Functions only; the controller inlines this fragment where a payload names
# it in a pkiops-include line.

function Get-SidDisplayName {
    # The DOMAIN\name Windows gives for the SID, or the SID string itself.
    # Names are for display only; every decision is made on the SID. A SID
    # that no longer maps (deleted account, unreachable or untrusted domain)
    # can still be on a key's ACL and must still be reported, so any
    # translation failure falls back to the SID.
    param(
        [Parameter(Mandatory)]
        [System.Security.Principal.SecurityIdentifier]$Sid
    )

    # Created on first use, so that this fragment runs nothing at top level.
    if ($null -eq $script:PkiopsSidNameCache) {
        $script:PkiopsSidNameCache = @{}
    }
    $key = $Sid.Value
    if (-not $script:PkiopsSidNameCache.ContainsKey($key)) {
        $name = $key
        try {
            $name = $Sid.Translate([System.Security.Principal.NTAccount]).Value
        }
        catch {
            $name = $key
        }
        $script:PkiopsSidNameCache[$key] = $name
    }
    $script:PkiopsSidNameCache[$key]
}

function Get-BuiltinDomainName {
    # The name of the built-in domain (S-1-5-32) in the language of this
    # Windows: BUILTIN in English, VORDEFINIERT in German, whose
    # Administrators group is Administratoren. The name lookup knows only
    # the localised name, so it is read from the name Windows gives the
    # Administrators alias, S-1-5-32-544, which every Windows has (its
    # DOMAIN\name, DOMAIN part). Read once a run.
    if ($null -eq $script:PkiopsBuiltinDomainName) {
        $administrators = [System.Security.Principal.SecurityIdentifier]::new('S-1-5-32-544')
        $script:PkiopsBuiltinDomainName = $administrators.Translate([System.Security.Principal.NTAccount]).Value.Split('\')[0]
    }
    $script:PkiopsBuiltinDomainName
}

function Test-SidString {
    # SecurityIdentifier's string constructor also accepts SDDL aliases such
    # as 'BA' or 'SY'. Requiring the S-1- prefix keeps a short account name
    # from being silently read as an alias.
    param(
        [AllowEmptyString()]
        [AllowNull()]
        [string]$Value
    )

    $Value -match '^S-1-'
}

function ConvertTo-PrincipalSid {
    # Throws if Windows cannot map the reference; the caller records the
    # message. UPNs (user@domain), DOMAIN\name, gMSA names ending in '$',
    # NT AUTHORITY\..., NT SERVICE\..., IIS APPPOOL\... and bare names are
    # all understood by the LSA lookup behind NTAccount.Translate and are
    # passed unchanged.
    param(
        [AllowEmptyString()]
        [string]$Reference
    )

    if (Test-SidString -Value $Reference) {
        # A well-formed SID can be put on an ACL even if it maps to no
        # account, so it is not looked up here.
        return [System.Security.Principal.SecurityIdentifier]::new($Reference)
    }

    $domain = $null
    $user = $Reference
    $separator = $Reference.IndexOf('\')
    if ($separator -ge 0) {
        $domain = $Reference.Substring(0, $separator)
        $user = $Reference.Substring($separator + 1)
    }

    # '.\name' is the usual shorthand for a local account, but the LSA name
    # lookup has no such alias and would look for a domain called '.'. The
    # local account domain is named after the computer's NetBIOS name, which
    # is what COMPUTERNAME holds.
    if ($domain -eq '.') {
        $domain = $env:COMPUTERNAME
    }

    $lookupName = if ($null -eq $domain) { $user } else { '{0}\{1}' -f $domain, $user }
    $firstError = $null
    try {
        return ([System.Security.Principal.NTAccount]::new($lookupName)).Translate([System.Security.Principal.SecurityIdentifier])
    }
    catch {
        $notMapped = (Get-UnderlyingException -ErrorRecord $_) -is [System.Security.Principal.IdentityNotMappedException]
        # BUILTIN\name as written on an English Windows is retried too: on a
        # localised one the built-in domain has another name.
        if (-not ($notMapped -and $null -ne $domain -and ($domain -eq $env:COMPUTERNAME -or $domain -eq 'BUILTIN'))) {
            throw
        }
        $firstError = $_
    }

    # Built-in local groups (Administrators, Users, IIS_IUSRS, ...) live in
    # the built-in domain, not in the computer's account domain, so
    # COMPUTERNAME\Administrators does not map even though people write it
    # (or .\Administrators) to mean "the local group", and BUILTIN\name
    # does not map where that domain is localised. Retry in the built-in
    # domain only, by its localised name (Get-BuiltinDomainName); a name that
    # exists in neither keeps the original error.
    try {
        $builtinDomain = Get-BuiltinDomainName
        return ([System.Security.Principal.NTAccount]::new($builtinDomain, $user)).Translate([System.Security.Principal.SecurityIdentifier])
    }
    catch {
        throw $firstError
    }
}

function Resolve-PrincipalReference {
    param(
        [AllowEmptyString()]
        [AllowNull()]
        [string]$Reference
    )

    $entry = @{
        input = $Reference
        sid = $null
        name = $null
        error = $null
    }
    try {
        $sid = ConvertTo-PrincipalSid -Reference $Reference
        $entry['sid'] = $sid.Value
        $entry['name'] = Get-SidDisplayName -Sid $sid
    }
    catch {
        # One bad reference must not hide the results for the others; the
        # controller decides whether an unresolved principal is fatal.
        $entry['sid'] = $null
        $entry['name'] = $null
        $entry['error'] = (Get-UnderlyingException -ErrorRecord $_).Message
    }
    $entry
}

function Resolve-PrincipalList {
    # One entry per reference, in order: input, sid, name, error.
    param(
        [AllowEmptyCollection()]
        [string[]]$References
    )

    # A List keeps zero and one entry as a list in the result instead of
    # being unrolled to nothing or to a single object.
    $resolved = [System.Collections.Generic.List[object]]::new()
    foreach ($reference in $References) {
        $resolved.Add((Resolve-PrincipalReference -Reference $reference))
    }
    , $resolved
}
