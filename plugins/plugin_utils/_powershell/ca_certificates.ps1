# pkiops-payload: ca_certificates
#
# Adds CA certificates to, or removes them from, the LocalMachine
# Intermediate Certification Authorities ('CA') and Trusted Root
# Certification Authorities ('Root') stores.
#
# probe: read only. For each entry of -Certificates (thumbprint and store)
#        reports whether a certificate with that thumbprint is in that store
#        as Windows shows it, whether its .Default physical store holds it,
#        and which of the store's other physical stores hold it. Safe under
#        -WhatIf: nothing in this mode is gated by ShouldProcess or writes.
# apply: performs exactly the operations in -Operations, in order: 'add'
#        builds the certificate from its DER bytes (base64, the 'der' key)
#        and adds it to its store; 'remove' removes every certificate with
#        that thumbprint from the store's .Default physical store, and from
#        no other, and says in 'removed' how many it deleted. Which
#        certificates go where, and whether anything must change, is the
#        controller's decision.
#
# A LocalMachine system store is a collection of physical stores ("System
# Store Locations"): Root shows .Default, .AuthRoot, .GroupPolicy,
# .Enterprise and .SmartCard; CA shows .Default, .GroupPolicy and
# .Enterprise. Only .Default is the computer's own; Windows fills and empties
# the others from Group Policy, Active Directory and automatic root update.
# X509Store opens the whole collection, and X509Store.Remove deletes a
# certificate from whichever physical store the copy it is given came from;
# so reading and removing by physical store go through CertOpenStore with
# CERT_STORE_PROV_PHYSICAL, which opens exactly one ("Root\.Default").
#
# API reference: X509Store (constructor X509Store(String, StoreLocation),
# Open, Certificates, Close), OpenFlags, StoreLocation, X509Certificate2
# (constructor X509Certificate2(IntPtr), Thumbprint, Reset); wincrypt.h:
# CertOpenStore (CERT_STORE_PROV_PHYSICAL_W, CERT_SYSTEM_STORE_LOCAL_MACHINE,
# CERT_STORE_OPEN_EXISTING_FLAG, CERT_STORE_READONLY_FLAG),
# CertEnumCertificatesInStore, CertDuplicateCertificateContext,
# CertDeleteCertificateFromStore, CertFreeCertificateContext, CertCloseStore;
# and see the included fragment _ca_store.ps1.
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory)]
    [ValidateSet('probe', 'apply')]
    [string]$Mode,

    [object[]]$Certificates = @(),

    [object[]]$Operations = @()
)

$ErrorActionPreference = 'Stop'

# win_powershell starts every run with Changed = $true. Clear it before any
# work so that a failure before the first mutation does not report a change.
$Ansible.Changed = $false

# The controller replaces these lines with the shared fragments: error
# wrapping, the LocalMachine stores, and CA certificates from DER bytes.
# pkiops-include: _errors.ps1
# pkiops-include: _local_machine.ps1
# pkiops-include: _ca_store.ps1

# Add-Type cannot redefine a type that already exists in this process, so only
# compile when the type is not loaded yet.
if (-not ([System.Management.Automation.PSTypeName]'Pkiops.KeyfactorCommand.Certificates.PhysicalStore').Type) {
    Add-Type -TypeDefinition @'
using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;

namespace Pkiops.KeyfactorCommand.Certificates
{
    internal static class PhysicalStoreMethods
    {
        // CertOpenStore's lpszStoreProvider for one physical store of a
        // system store, named "<system store>\<physical store>" as a wide
        // string: CERT_STORE_PROV_PHYSICAL_W, ((LPCSTR) 14) in wincrypt.h.
        internal static readonly IntPtr CERT_STORE_PROV_PHYSICAL_W = new IntPtr(14);

        // dwFlags: the store location in the high word
        // (CERT_SYSTEM_STORE_LOCAL_MACHINE_ID 2 << 16); open only a store
        // that exists; read-only unless removing.
        internal const uint CERT_SYSTEM_STORE_LOCAL_MACHINE = 0x00020000;
        internal const uint CERT_STORE_OPEN_EXISTING_FLAG = 0x00004000;
        internal const uint CERT_STORE_READONLY_FLAG = 0x00008000;
        // Enumerations also list certificates with CERT_ARCHIVED_PROP_ID,
        // which they skip otherwise (CertOpenStore): an archived copy in
        // .Default is still the computer's own, to report and to remove.
        internal const uint CERT_STORE_ENUM_ARCHIVED_FLAG = 0x00000200;

        internal const int ERROR_FILE_NOT_FOUND = 2;
        internal const int E_FILE_NOT_FOUND = unchecked((int)0x80070002);

        // HCERTSTORE CertOpenStore(LPCSTR lpszStoreProvider,
        //     DWORD dwEncodingType, HCRYPTPROV_LEGACY hCryptProv,
        //     DWORD dwFlags, const void *pvPara);
        [DllImport("crypt32.dll", CharSet = CharSet.Unicode, ExactSpelling = true, SetLastError = true)]
        internal static extern IntPtr CertOpenStore(
            IntPtr lpszStoreProvider,
            uint dwEncodingType,
            IntPtr hCryptProv,
            uint dwFlags,
            string pvPara);

        // BOOL CertCloseStore(HCERTSTORE hCertStore, DWORD dwFlags);
        [DllImport("crypt32.dll", ExactSpelling = true, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool CertCloseStore(IntPtr hCertStore, uint dwFlags);

        // PCCERT_CONTEXT CertEnumCertificatesInStore(HCERTSTORE hCertStore,
        //     PCCERT_CONTEXT pPrevCertContext); frees pPrevCertContext.
        [DllImport("crypt32.dll", ExactSpelling = true, SetLastError = true)]
        internal static extern IntPtr CertEnumCertificatesInStore(IntPtr hCertStore, IntPtr pPrevCertContext);

        // PCCERT_CONTEXT CertDuplicateCertificateContext(PCCERT_CONTEXT pCertContext);
        [DllImport("crypt32.dll", ExactSpelling = true, SetLastError = true)]
        internal static extern IntPtr CertDuplicateCertificateContext(IntPtr pCertContext);

        // BOOL CertDeleteCertificateFromStore(PCCERT_CONTEXT pCertContext);
        // always frees pCertContext, even when it fails.
        [DllImport("crypt32.dll", ExactSpelling = true, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool CertDeleteCertificateFromStore(IntPtr pCertContext);

        // BOOL CertFreeCertificateContext(PCCERT_CONTEXT pCertContext);
        [DllImport("crypt32.dll", ExactSpelling = true, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool CertFreeCertificateContext(IntPtr pCertContext);
    }

    // One physical store of a LocalMachine system store, such as
    // Root\.Default, read or changed on its own rather than through the
    // system store's collection.
    public static class PhysicalStore
    {
        // The thumbprints of the certificates in the physical store, or an
        // empty list when that physical store does not exist (a store Group
        // Policy has never written, for example).
        public static List<string> ReadThumbprints(string systemStore, string physicalStore)
        {
            List<string> thumbprints = new List<string>();
            IntPtr store = Open(systemStore, physicalStore, true);
            if (store == IntPtr.Zero)
            {
                return thumbprints;
            }
            try
            {
                IntPtr context = IntPtr.Zero;
                while ((context = PhysicalStoreMethods.CertEnumCertificatesInStore(store, context)) != IntPtr.Zero)
                {
                    thumbprints.Add(Thumbprint(context));
                }
            }
            finally
            {
                PhysicalStoreMethods.CertCloseStore(store, 0);
            }
            return thumbprints;
        }

        // Deletes every certificate with the thumbprint from the physical
        // store, and returns how many it deleted.
        public static int RemoveCertificate(string systemStore, string physicalStore, string thumbprint)
        {
            IntPtr store = Open(systemStore, physicalStore, false);
            if (store == IntPtr.Zero)
            {
                return 0;
            }
            int removed = 0;
            try
            {
                // A deleted certificate cannot carry an enumeration on, so
                // each deletion starts it again from the first certificate.
                while (true)
                {
                    IntPtr match = IntPtr.Zero;
                    IntPtr context = IntPtr.Zero;
                    while ((context = PhysicalStoreMethods.CertEnumCertificatesInStore(store, context)) != IntPtr.Zero)
                    {
                        if (string.Equals(Thumbprint(context), thumbprint, StringComparison.OrdinalIgnoreCase))
                        {
                            match = context;
                            break;
                        }
                    }
                    if (match == IntPtr.Zero)
                    {
                        return removed;
                    }
                    // The duplicate is what the deletion frees; the context
                    // from the enumeration is freed here.
                    IntPtr duplicate = PhysicalStoreMethods.CertDuplicateCertificateContext(match);
                    PhysicalStoreMethods.CertFreeCertificateContext(match);
                    if (!PhysicalStoreMethods.CertDeleteCertificateFromStore(duplicate))
                    {
                        // The copies already deleted are named, so that a
                        // failure part way still says the store changed.
                        int error = Marshal.GetLastWin32Error();
                        throw new Win32Exception(error, string.Format(
                            "CertDeleteCertificateFromStore failed after deleting {2} cop{3}: {0} (0x{1:X8})",
                            new Win32Exception(error).Message, error, removed, removed == 1 ? "y" : "ies"));
                    }
                    removed++;
                }
            }
            finally
            {
                PhysicalStoreMethods.CertCloseStore(store, 0);
            }
        }

        private static IntPtr Open(string systemStore, string physicalStore, bool readOnly)
        {
            uint flags = PhysicalStoreMethods.CERT_SYSTEM_STORE_LOCAL_MACHINE | PhysicalStoreMethods.CERT_STORE_OPEN_EXISTING_FLAG
                | PhysicalStoreMethods.CERT_STORE_ENUM_ARCHIVED_FLAG;
            if (readOnly)
            {
                flags |= PhysicalStoreMethods.CERT_STORE_READONLY_FLAG;
            }
            string name = systemStore + "\\" + physicalStore;
            IntPtr store = PhysicalStoreMethods.CertOpenStore(PhysicalStoreMethods.CERT_STORE_PROV_PHYSICAL_W, 0, IntPtr.Zero, flags, name);
            if (store != IntPtr.Zero)
            {
                return store;
            }
            int error = Marshal.GetLastWin32Error();
            if (error == PhysicalStoreMethods.ERROR_FILE_NOT_FOUND || error == PhysicalStoreMethods.E_FILE_NOT_FOUND)
            {
                return IntPtr.Zero;
            }
            throw new Win32Exception(error, string.Format(
                "CertOpenStore(LocalMachine {0}) failed: {1} (0x{2:X8})", name, new Win32Exception(error).Message, error));
        }

        // X509Certificate2(IntPtr) takes its own reference to the context,
        // so the enumeration's stays the enumeration's.
        private static string Thumbprint(IntPtr context)
        {
            X509Certificate2 certificate = new X509Certificate2(context);
            try
            {
                return certificate.Thumbprint;
            }
            finally
            {
                certificate.Reset();
            }
        }
    }
}
'@
}

# The physical stores of each system store other than .Default, as "System
# Store Locations" lists them for CERT_SYSTEM_STORE_LOCAL_MACHINE. .SmartCard
# is left out: its certificates come from smart cards in the readers, and
# reading it starts the smart card service; a certificate only it holds still
# shows as present in the store but not in .Default.
$script:OtherPhysicalStores = @{
    CA = @('.GroupPolicy', '.Enterprise')
    Root = @('.AuthRoot', '.GroupPolicy', '.Enterprise')
}

function Get-ProbeList {
    # Validates -Certificates; returns its entries as objects with Thumbprint
    # and Store.
    param(
        [AllowEmptyCollection()]
        [object[]]$CertificateList
    )

    $entries = [System.Collections.Generic.List[object]]::new()
    $index = 0
    foreach ($entry in $CertificateList) {
        if ($entry -isnot [System.Collections.IDictionary]) {
            throw "Certificates entry #$index is not a dictionary with the keys thumbprint and store."
        }
        $label = "Certificates entry #$index (thumbprint '$($entry['thumbprint'])', store '$($entry['store'])')"
        Assert-CaStoreEntry -Thumbprint $entry['thumbprint'] -Store $entry['store'] -Label $label
        $entries.Add([pscustomobject]@{
                Thumbprint = $entry['thumbprint']
                Store = $entry['store']
            })
        $index++
    }
    , $entries
}

function Get-StoreThumbprintSet {
    # The thumbprints of the certificates in LocalMachine\<Name>, as Windows
    # shows the store: its logical view, which includes certificates that
    # Group Policy or enterprise trust put there.
    param(
        [Parameter(Mandatory)]
        [string]$Name
    )

    $thumbprints = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
    # CA and Root exist on every Windows installation; a missing one is an
    # error to report.
    $store = Open-LocalMachineStore -Name $Name
    try {
        # Every read of X509Store.Certificates creates a new object for each
        # certificate in the store: read it once, and release each object.
        #
        # Reset() rather than Dispose() throughout: X509Certificate.Dispose
        # and X509Store.Dispose exist only from .NET Framework 4.6, and
        # Windows PowerShell 5.1 also runs on 4.5.2. Reset() and Close()
        # exist in every version and release the same native handles.
        foreach ($certificate in $store.Certificates) {
            [void]$thumbprints.Add($certificate.Thumbprint)
            $certificate.Reset()
        }
    }
    finally {
        $store.Close()
    }
    , $thumbprints
}

function Get-PhysicalStoreThumbprintSet {
    # The thumbprints in one physical store of LocalMachine\<Name>; an empty
    # set when that physical store does not exist.
    param(
        [Parameter(Mandatory)]
        [string]$Name,

        [Parameter(Mandatory)]
        [string]$Physical
    )

    $thumbprints = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::OrdinalIgnoreCase)
    try {
        foreach ($thumbprint in [Pkiops.KeyfactorCommand.Certificates.PhysicalStore]::ReadThumbprints($Name, $Physical)) {
            [void]$thumbprints.Add($thumbprint)
        }
    }
    catch {
        throw (New-ContextException -Context "Cannot read the physical store LocalMachine\$Name\$Physical" -ErrorRecord $_)
    }
    , $thumbprints
}

function Invoke-Probe {
    param(
        [AllowEmptyCollection()]
        [object[]]$CertificateList
    )

    $entries = Get-ProbeList -CertificateList $CertificateList

    # Each store, and each of its physical stores, is read once, however
    # many certificates are asked about.
    $storeContents = @{}
    $physicalContents = @{}
    $report = [System.Collections.Generic.List[object]]::new()
    foreach ($entry in $entries) {
        if (-not $storeContents.ContainsKey($entry.Store)) {
            $storeContents[$entry.Store] = Get-StoreThumbprintSet -Name $entry.Store
            $physical = @{}
            foreach ($name in @('.Default') + $script:OtherPhysicalStores[$entry.Store]) {
                $physical[$name] = Get-PhysicalStoreThumbprintSet -Name $entry.Store -Physical $name
            }
            $physicalContents[$entry.Store] = $physical
        }
        $elsewhere = [System.Collections.Generic.List[string]]::new()
        foreach ($name in $script:OtherPhysicalStores[$entry.Store]) {
            if ($physicalContents[$entry.Store][$name].Contains($entry.Thumbprint)) {
                $elsewhere.Add($name)
            }
        }
        $report.Add(@{
                thumbprint = $entry.Thumbprint
                store = $entry.Store
                present = $storeContents[$entry.Store].Contains($entry.Thumbprint)
                in_default_store = $physicalContents[$entry.Store]['.Default'].Contains($entry.Thumbprint)
                other_physical_stores = $elsewhere
            })
    }

    $Ansible.Changed = $false
    $Ansible.Result = @{
        certificates = $report
    }
}

function Get-OperationPlan {
    # Validates every operation, and builds every certificate to add, before
    # the first change. Returns objects with Action, Thumbprint, Store and
    # Certificate ($null for 'remove'); the caller releases the certificates.
    param(
        [AllowEmptyCollection()]
        [object[]]$OperationList
    )

    $plan = [System.Collections.Generic.List[object]]::new()
    $seen = [System.Collections.Generic.HashSet[string]]::new([System.StringComparer]::Ordinal)
    try {
        $index = 0
        foreach ($operation in $OperationList) {
            if ($operation -isnot [System.Collections.IDictionary]) {
                throw "Operation #$index is not a dictionary with the keys action, thumbprint and store."
            }
            $action = $operation['action']
            $label = "operation #$index (action '$action', thumbprint '$($operation['thumbprint'])', store '$($operation['store'])')"
            if ($action -isnot [string] -or @('add', 'remove') -cnotcontains $action) {
                throw "Invalid ${label}: action must be 'add' or 'remove'."
            }
            Assert-CaStoreEntry -Thumbprint $operation['thumbprint'] -Store $operation['store'] -Label $label
            if (-not $seen.Add("$($operation['store'])\$($operation['thumbprint'])")) {
                throw "Invalid ${label}: the certificate and store are listed more than once."
            }

            $certificate = $null
            if ($action -ceq 'add') {
                $certificate = ConvertTo-CaCertificate -Encoded $operation['der'] -Thumbprint $operation['thumbprint'] -Label $label
            }
            $plan.Add([pscustomobject]@{
                    Action = $action
                    Thumbprint = $operation['thumbprint']
                    Store = $operation['store']
                    Certificate = $certificate
                })
            $index++
        }
    }
    catch {
        Clear-OperationPlan -Plan $plan
        throw
    }
    , $plan
}

function Clear-OperationPlan {
    param(
        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[object]]$Plan
    )

    foreach ($step in $Plan) {
        if ($null -ne $step.Certificate) {
            $step.Certificate.Reset()
        }
    }
}

function Remove-CaCertificate {
    # Removes every certificate with the thumbprint from the store's .Default
    # physical store, the computer's own, and from no other: a copy Group
    # Policy, enterprise trust or automatic root update provides is theirs.
    # Returns how many copies it deleted. None is not an error, as the state
    # asked for is reached, but it is no change either: the certificate left
    # .Default between the probe and this apply.
    param(
        [Parameter(Mandatory)]
        [string]$Store,

        [Parameter(Mandatory)]
        [string]$Thumbprint
    )

    try {
        [Pkiops.KeyfactorCommand.Certificates.PhysicalStore]::RemoveCertificate($Store, '.Default', $Thumbprint)
    }
    catch {
        throw (New-ContextException -Context "Cannot remove certificate $Thumbprint from LocalMachine\$Store\.Default" -ErrorRecord $_)
    }
}

function Invoke-Apply {
    param(
        [AllowEmptyCollection()]
        [object[]]$OperationList,

        # The script's own PSCmdlet, so that ShouldProcess honours the
        # -WhatIf and -Confirm values the script was invoked with.
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet]$Cmdlet
    )

    $applied = [System.Collections.Generic.List[object]]::new()
    # Published before any change, and filled in as operations succeed, so
    # that if one fails the result still shows exactly what was done.
    $Ansible.Changed = $false
    $Ansible.Result = @{
        applied = $applied
    }

    $plan = Get-OperationPlan -OperationList $OperationList
    try {
        foreach ($step in $plan) {
            $where = "LocalMachine\$($step.Store)"
            $done = @{
                action = $step.Action
                thumbprint = $step.Thumbprint
                store = $step.Store
            }
            if ($step.Action -ceq 'add') {
                if (-not $Cmdlet.ShouldProcess($where, "Add CA certificate $($step.Thumbprint) ($($step.Certificate.Subject))")) {
                    continue
                }
                Add-CaCertificate -Store $step.Store -Certificate $step.Certificate
                $Ansible.Changed = $true
            }
            else {
                if (-not $Cmdlet.ShouldProcess($where, "Remove certificate $($step.Thumbprint)")) {
                    continue
                }
                # How many copies went: the operation is done either way, but
                # only a deletion is a change.
                $removed = Remove-CaCertificate -Store $step.Store -Thumbprint $step.Thumbprint
                $done['removed'] = $removed
                if ($removed -gt 0) {
                    $Ansible.Changed = $true
                }
            }
            $applied.Add($done)
        }
    }
    finally {
        Clear-OperationPlan -Plan $plan
    }
}

if ($Mode -eq 'probe') {
    Invoke-Probe -CertificateList $Certificates
}
else {
    Invoke-Apply -OperationList $Operations -Cmdlet $PSCmdlet
}
