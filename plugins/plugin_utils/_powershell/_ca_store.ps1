# Shared fragment: CA certificates sent as DER bytes, and the two LocalMachine
# stores they go to. Inlined by the controller where a payload names it in a
# pkiops-include line (ca_certificates, pfx_import).
#
# Functions only. Needs _errors.ps1 and _local_machine.ps1 (the stores, and
# Restore-ArchivedCertificate), which the payload includes first.
#
# The system store names Windows uses: 'CA' is Intermediate Certification
# Authorities (what X509Store's StoreName.CertificateAuthority opens), 'Root'
# is Trusted Root Certification Authorities (StoreName.Root).
#
# Certificates are public: their bytes arrive as ordinary parameters, and are
# added from memory without a temporary file.
#
# API reference: X509Certificate2 (constructor X509Certificate2(Byte[]),
# Thumbprint, Reset), X509Certificate2.GetCertContentType(Byte[]),
# X509ContentType, Convert.FromBase64String, X509Store.Add,
# CertAddCertificateContextToStore.

function Assert-CaStoreEntry {
    # Thumbprints arrive as X509Certificate2.Thumbprint spells them (40
    # uppercase hex digits) and stores as 'CA' or 'Root', both normalised by
    # the controller. Anything else is a controller bug, which would
    # otherwise surface as "not found" or a write to the wrong store. The
    # pattern ends in \z, not $: in .NET regular expressions $ also matches
    # before a final newline, which would let "<thumbprint>`n" through.
    param(
        [AllowNull()]
        [object]$Thumbprint,

        [AllowNull()]
        [object]$Store,

        [Parameter(Mandatory)]
        [string]$Label
    )

    if ($Thumbprint -isnot [string] -or $Thumbprint -cnotmatch '^[0-9A-F]{40}\z') {
        throw "Invalid ${Label}: thumbprint must be 40 uppercase hexadecimal digits."
    }
    if ($Store -isnot [string] -or @('CA', 'Root') -cnotcontains $Store) {
        throw "Invalid ${Label}: store must be 'CA' (intermediate certification authorities) or 'Root' (trusted root certification authorities)."
    }
}

function ConvertTo-CaCertificate {
    # A CA certificate built from its DER bytes (base64). The caller releases
    # it with Reset().
    param(
        [AllowNull()]
        [object]$Encoded,

        [Parameter(Mandatory)]
        [string]$Thumbprint,

        [Parameter(Mandatory)]
        [string]$Label
    )

    if ($Encoded -isnot [string] -or $Encoded.Length -eq 0) {
        throw "Invalid ${Label}: der must hold the certificate's DER bytes as base64."
    }
    try {
        $bytes = [System.Convert]::FromBase64String($Encoded)
    }
    catch {
        throw "Invalid ${Label}: der is not valid base64."
    }

    # Only a lone certificate is accepted. X509Certificate2(Byte[]) would also
    # open a PFX, and writing a private key to this computer is not what a
    # CA certificate needs.
    $contentType = [System.Security.Cryptography.X509Certificates.X509ContentType]::Unknown
    try {
        $contentType = [System.Security.Cryptography.X509Certificates.X509Certificate2]::GetCertContentType($bytes)
    }
    catch {
        # GetCertContentType throws for bytes it cannot identify at all.
        $contentType = [System.Security.Cryptography.X509Certificates.X509ContentType]::Unknown
    }
    if ($contentType -ne [System.Security.Cryptography.X509Certificates.X509ContentType]::Cert) {
        # Pfx and Pkcs12 are one value of X509ContentType, and Enum.ToString
        # does not promise which of two such names it returns: name it here,
        # so that the message is the same on every .NET version.
        $contentName = [string]$contentType
        if ($contentType -eq [System.Security.Cryptography.X509Certificates.X509ContentType]::Pkcs12) {
            $contentName = 'Pkcs12'
        }
        throw "Invalid ${Label}: der is not a single certificate (Windows identifies it as '$contentName')."
    }

    try {
        $certificate = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($bytes)
    }
    catch {
        throw (New-ContextException -Context "Invalid ${Label}: der cannot be read as a certificate" -ErrorRecord $_)
    }
    # The controller named the certificate by the SHA-1 of these bytes;
    # Windows must agree, or the probe and this apply are about different
    # certificates.
    if (-not [string]::Equals($certificate.Thumbprint, $Thumbprint, [System.StringComparison]::OrdinalIgnoreCase)) {
        $actual = $certificate.Thumbprint
        $certificate.Reset()
        throw "Invalid ${Label}: der holds the certificate $actual, not $Thumbprint."
    }
    $certificate
}

function Add-CaCertificate {
    # X509Store.Add on the logical store writes to its .Default physical
    # store, the computer's own copy. A copy already there that is archived
    # (hidden from every enumeration of the store without IncludeArchived,
    # so the probe reported it absent) stays archived after the Add, and is
    # restored here; see Restore-ArchivedCertificate.
    param(
        [Parameter(Mandatory)]
        [string]$Store,

        [Parameter(Mandatory)]
        [System.Security.Cryptography.X509Certificates.X509Certificate2]$Certificate
    )

    # CA and Root exist on every Windows installation; a missing one is an
    # error to report, not a store to create.
    $target = Open-LocalMachineStore -Name $Store -ForWrite -IncludeArchived
    try {
        try {
            $target.Add($Certificate)
        }
        catch {
            throw (New-ContextException -Context "Cannot add certificate $($Certificate.Thumbprint) to LocalMachine\$Store" -ErrorRecord $_)
        }
        # The store has changed from here on, whatever the restore does.
        $Ansible.Changed = $true
        try {
            $null = Restore-ArchivedCertificate -Store $target -Thumbprint $Certificate.Thumbprint
        }
        catch {
            throw (New-ContextException -Context "Certificate $($Certificate.Thumbprint) was added to LocalMachine\$Store, but" -ErrorRecord $_)
        }
    }
    finally {
        $target.Close()
    }
}
