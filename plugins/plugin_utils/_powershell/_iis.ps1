# Shared by payloads that read IIS's configuration (iis_app_pools,
# readiness_info): loading Microsoft.Web.Administration, opening a
# ServerManager, telling "IIS is not installed" apart from other failures,
# and finding a pool and its run state. Included by the controller in place
# of a pkiops-include line.

# The version IIS 7 and later register in the GAC. A full name makes
# Assembly.Load load exactly that assembly rather than whatever a partial
# name resolves to (IIS Express ships a different version of the same
# assembly).
$script:WebAdministrationAssembly = 'Microsoft.Web.Administration, Version=7.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35'

function Format-HResult {
    # HRESULTs are documented as 0x8XXXXXXX; Exception.HResult is a signed
    # Int32, and the X8 format prints its two's complement, which is that form.
    param(
        [Parameter(Mandatory)]
        [System.Exception]$Exception
    )

    '0x{0:X8}' -f $Exception.HResult
}

function Import-WebAdministration {
    # Throws Windows' exception unchanged; the caller decides, with
    # Test-IisAbsentError, whether it means "IIS is not installed" (a result
    # in probe mode) or something else (always a failure). Assembly.Load
    # documents FileNotFoundException for an assembly that is not there, and
    # FileLoadException or BadImageFormatException for one that is there but
    # cannot be loaded, so the two stay apart.
    if (-not ([System.Management.Automation.PSTypeName]'Microsoft.Web.Administration.ServerManager').Type) {
        $null = [System.Reflection.Assembly]::Load($script:WebAdministrationAssembly)
    }
}

function Open-ServerManager {
    # Throws Windows' exception unchanged, like Import-WebAdministration.
    $manager = [Microsoft.Web.Administration.ServerManager]::new()
    try {
        # A ServerManager may defer opening applicationHost.config until it is
        # first used. Reading the pool collection here makes a missing or
        # unreadable configuration fail at this one place, where the caller
        # can tell it apart from a failure on a single pool.
        $null = $manager.ApplicationPools.Count
    }
    catch {
        $manager.Dispose()
        throw
    }
    $manager
}

function Test-IisAbsentError {
    # True when opening IIS failed because IIS's configuration system is not
    # on this computer, as opposed to present but unusable (access denied,
    # malformed applicationHost.config), which must stay a failure: reporting
    # it as "not installed" would send the user off to install IIS.
    param(
        [Parameter(Mandatory)]
        [System.Exception]$Exception
    )

    if ($Exception -is [System.IO.FileNotFoundException] -or
        $Exception -is [System.IO.DirectoryNotFoundException] -or
        $Exception -is [System.DllNotFoundException]) {
        return $true
    }
    # REGDB_E_CLASSNOTREG: the configuration COM server behind ServerManager
    # is not registered. ERROR_FILE_NOT_FOUND / ERROR_PATH_NOT_FOUND:
    # redirection.config or applicationHost.config does not exist.
    (Format-HResult -Exception $Exception) -in @('0x80040154', '0x80070002', '0x80070003')
}

function Find-AppPool {
    # The pool whose name equals $Name ignoring case, or $null. The
    # collection is searched explicitly because IIS treats pool names as
    # case-insensitive and the collection indexer does not document how it
    # compares names or what it does when none matches.
    param(
        [Parameter(Mandatory)]
        [Microsoft.Web.Administration.ServerManager]$Manager,

        [Parameter(Mandatory)]
        [AllowEmptyString()]
        [string]$Name
    )

    foreach ($candidate in $Manager.ApplicationPools) {
        if ([string]::Equals($candidate.Name, $Name, [System.StringComparison]::OrdinalIgnoreCase)) {
            return $candidate
        }
    }
    $null
}

function Get-PoolState {
    # State is not stored configuration: each read asks WAS, and it throws
    # when WAS is stopped or does not know the pool (yet). The contract
    # reports that as 'Unknown' rather than failing the whole probe.
    param(
        [Parameter(Mandatory)]
        [Microsoft.Web.Administration.ApplicationPool]$Pool
    )

    try {
        [string]$Pool.State
    }
    catch {
        'Unknown'
    }
}
