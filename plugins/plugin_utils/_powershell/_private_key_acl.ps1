# Shared fragment: who may use the private key of a certificate in a
# LocalMachine store. Inlined by the controller where a payload names it in a
# pkiops-include line (private_key_acl, pfx_import).
#
# Only definitions: one guarded Add-Type and functions. Nothing here runs on
# its own, so the including payload decides what happens and in what order.
#
# Needs _errors.ps1 and _principals.ps1, which the payload includes first.
#
# Functions a payload may call:
#   Assert-Thumbprint, Assert-StoreName              input checks
#   Find-LocalMachineCertificate                     read-only store lookup
#   Get-CertificateKeyReport                         the key report
#   Get-CurrentIdentityReport                        who the script runs as
#   Get-KeyAclPlan, Set-StoredCertificateKeyAcl      key ACL operations
#
# A certificate's private key is kept either by a CNG key storage provider
# (KSP) or by a legacy CryptoAPI cryptographic service provider (CSP). Each
# has its own call to read and replace the key's security descriptor: CNG's
# NCryptGetProperty/NCryptSetProperty with the "Security Descr" property,
# CryptoAPI's CryptGetProvParam/CryptSetProvParam with PP_KEYSET_SEC_DESCR.
# CryptAcquireCertificatePrivateKey opens the key whichever kind it is.
#
# API references: wincrypt.h (crypt32.dll, advapi32.dll), ncrypt.h
# (ncrypt.dll), and the .NET types X509Store, X509Certificate2,
# RawSecurityDescriptor, RawAcl, CommonAce and SecurityIdentifier.

# Add-Type cannot redefine a type that already exists in this process, so only
# compile when the type is not loaded yet (for example a second payload run in
# the same PowerShell host). The source is passed inline rather than through
# a variable so that this fragment performs no other top-level statement.
if (-not ([System.Management.Automation.PSTypeName]'Pkiops.KeyfactorCommand.Certificates.CertificatePrivateKey').Type) {
    Add-Type -TypeDefinition @'
using System;
using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Pkiops.KeyfactorCommand.Certificates
{
    internal static class NativeMethods
    {
        // CryptAcquireCertificatePrivateKey dwFlags (wincrypt.h).
        // SILENT: never show UI; this runs in a non-interactive session.
        // ALLOW_NCRYPT_KEY: return a CNG key handle for a CNG key instead of
        // failing; without it only CryptoAPI keys can be opened.
        internal const uint CRYPT_ACQUIRE_SILENT_FLAG = 0x00000040;
        internal const uint CRYPT_ACQUIRE_ALLOW_NCRYPT_KEY_FLAG = 0x00010000;

        // The *pdwKeySpec value that says the handle is an NCRYPT_KEY_HANDLE;
        // AT_KEYEXCHANGE (1) or AT_SIGNATURE (2) mean an HCRYPTPROV.
        internal const uint CERT_NCRYPT_KEY_SPEC = 0xFFFFFFFF;

        // SECURITY_INFORMATION (winnt.h): only the DACL is read and written,
        // so the owner, group and SACL of the key are never touched.
        internal const uint DACL_SECURITY_INFORMATION = 0x00000004;

        // ncrypt.h
        internal const uint NCRYPT_SILENT_FLAG = 0x00000040;
        internal const string NCRYPT_SECURITY_DESCR_PROPERTY = "Security Descr";
        internal const string NCRYPT_PROVIDER_HANDLE_PROPERTY = "Provider Handle";
        internal const string NCRYPT_NAME_PROPERTY = "Name";
        internal const string NCRYPT_UNIQUE_NAME_PROPERTY = "Unique Name";
        internal const string NCRYPT_EXPORT_POLICY_PROPERTY = "Export Policy";
        internal const uint NCRYPT_ALLOW_EXPORT_FLAG = 0x00000001;
        internal const uint NCRYPT_ALLOW_PLAINTEXT_EXPORT_FLAG = 0x00000002;
        internal const int NTE_BUFFER_TOO_SMALL = unchecked((int)0x80090028);
        // winerror.h; NCrypt returns it as a SECURITY_STATUS for some properties.
        internal const int ERROR_INSUFFICIENT_BUFFER = 122;
        internal const int NTE_NOT_SUPPORTED = unchecked((int)0x80090029);
        internal const int NTE_NOT_FOUND = unchecked((int)0x80090011);

        // CryptGetProvParam / CryptSetProvParam dwParam (wincrypt.h).
        internal const uint PP_NAME = 4;
        internal const uint PP_KEYSET_SEC_DESCR = 8;
        internal const uint PP_UNIQUE_CONTAINER = 36;

        // CryptGetKeyParam dwParam and the permission bit it reports.
        internal const uint KP_PERMISSIONS = 6;
        internal const uint CRYPT_EXPORT = 0x00000004;

        internal const int ERROR_MORE_DATA = 234;

        // CertGetCertificateContextProperty dwPropId (wincrypt.h): the
        // CRYPT_KEY_PROV_INFO that names the certificate's key and provider.
        internal const uint CERT_KEY_PROV_INFO_PROP_ID = 2;

        // BOOL CertGetCertificateContextProperty(PCCERT_CONTEXT pCertContext,
        //     DWORD dwPropId, void *pvData, DWORD *pcbData);
        // A NULL pvData asks for the size only.
        [DllImport("crypt32.dll", ExactSpelling = true, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool CertGetCertificateContextProperty(
            IntPtr pCertContext,
            uint dwPropId,
            IntPtr pvData,
            ref uint pcbData);

        // BOOL CryptAcquireCertificatePrivateKey(PCCERT_CONTEXT pCert,
        //     DWORD dwFlags, void *pvParameters,
        //     HCRYPTPROV_OR_NCRYPT_KEY_HANDLE *phCryptProvOrNCryptKey,
        //     DWORD *pdwKeySpec, BOOL *pfCallerFreeProvOrNCryptKey);
        // The handle type is a ULONG_PTR, hence IntPtr; it is wrapped in a
        // SafeHandle as soon as it is known who must free it.
        [DllImport("crypt32.dll", ExactSpelling = true, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool CryptAcquireCertificatePrivateKey(
            IntPtr pCert,
            uint dwFlags,
            IntPtr pvParameters,
            out IntPtr phCryptProvOrNCryptKey,
            out uint pdwKeySpec,
            [MarshalAs(UnmanagedType.Bool)] out bool pfCallerFreeProvOrNCryptKey);

        // SECURITY_STATUS NCryptGetProperty(NCRYPT_HANDLE hObject,
        //     LPCWSTR pszProperty, PBYTE pbOutput, DWORD cbOutput,
        //     DWORD *pcbResult, DWORD dwFlags);
        // A null byte[] is passed as NULL, which asks for the size only.
        [DllImport("ncrypt.dll", CharSet = CharSet.Unicode, ExactSpelling = true)]
        internal static extern int NCryptGetProperty(
            SafeHandle hObject,
            string pszProperty,
            [Out] byte[] pbOutput,
            uint cbOutput,
            out uint pcbResult,
            uint dwFlags);

        // SECURITY_STATUS NCryptSetProperty(NCRYPT_HANDLE hObject,
        //     LPCWSTR pszProperty, PBYTE pbInput, DWORD cbInput, DWORD dwFlags);
        [DllImport("ncrypt.dll", CharSet = CharSet.Unicode, ExactSpelling = true)]
        internal static extern int NCryptSetProperty(
            SafeHandle hObject,
            string pszProperty,
            [In] byte[] pbInput,
            uint cbInput,
            uint dwFlags);

        // SECURITY_STATUS NCryptFreeObject(NCRYPT_HANDLE hObject);
        [DllImport("ncrypt.dll", ExactSpelling = true)]
        internal static extern int NCryptFreeObject(IntPtr hObject);

        // BOOL CryptGetProvParam(HCRYPTPROV hProv, DWORD dwParam, BYTE *pbData,
        //     DWORD *pdwDataLen, DWORD dwFlags);
        [DllImport("advapi32.dll", ExactSpelling = true, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool CryptGetProvParam(
            SafeHandle hProv,
            uint dwParam,
            [Out] byte[] pbData,
            ref uint pdwDataLen,
            uint dwFlags);

        // BOOL CryptSetProvParam(HCRYPTPROV hProv, DWORD dwParam,
        //     const BYTE *pbData, DWORD dwFlags);
        [DllImport("advapi32.dll", ExactSpelling = true, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool CryptSetProvParam(
            SafeHandle hProv,
            uint dwParam,
            [In] byte[] pbData,
            uint dwFlags);

        // BOOL CryptReleaseContext(HCRYPTPROV hProv, DWORD dwFlags);
        [DllImport("advapi32.dll", ExactSpelling = true, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool CryptReleaseContext(IntPtr hProv, uint dwFlags);

        // BOOL CryptGetUserKey(HCRYPTPROV hProv, DWORD dwKeySpec,
        //     HCRYPTKEY *phUserKey);
        [DllImport("advapi32.dll", ExactSpelling = true, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool CryptGetUserKey(SafeHandle hProv, uint dwKeySpec, out IntPtr phUserKey);

        // BOOL CryptGetKeyParam(HCRYPTKEY hKey, DWORD dwParam, BYTE *pbData,
        //     DWORD *pdwDataLen, DWORD dwFlags);
        [DllImport("advapi32.dll", ExactSpelling = true, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool CryptGetKeyParam(
            SafeHandle hKey,
            uint dwParam,
            [Out] byte[] pbData,
            ref uint pdwDataLen,
            uint dwFlags);

        // BOOL CryptDestroyKey(HCRYPTKEY hKey);
        [DllImport("advapi32.dll", ExactSpelling = true, SetLastError = true)]
        [return: MarshalAs(UnmanagedType.Bool)]
        internal static extern bool CryptDestroyKey(IntPtr hKey);
    }

    // An NCRYPT_KEY_HANDLE or NCRYPT_PROV_HANDLE. ownsHandle is false when
    // the handle belongs to someone else (CryptAcquireCertificatePrivateKey
    // said the caller must not free it); SafeHandle then never calls
    // ReleaseHandle, so NCryptFreeObject runs only on handles we own.
    internal sealed class NCryptObjectHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        internal NCryptObjectHandle(IntPtr existing, bool ownsHandle)
            : base(ownsHandle)
        {
            SetHandle(existing);
        }

        protected override bool ReleaseHandle()
        {
            return NativeMethods.NCryptFreeObject(handle) == 0;
        }
    }

    // An HCRYPTPROV, released with CryptReleaseContext only when owned (see
    // NCryptObjectHandle).
    internal sealed class CapiProviderHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        internal CapiProviderHandle(IntPtr existing, bool ownsHandle)
            : base(ownsHandle)
        {
            SetHandle(existing);
        }

        protected override bool ReleaseHandle()
        {
            return NativeMethods.CryptReleaseContext(handle, 0);
        }
    }

    // An HCRYPTKEY from CryptGetUserKey, which the caller always destroys.
    internal sealed class CapiKeyHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        internal CapiKeyHandle(IntPtr existing)
            : base(true)
        {
            SetHandle(existing);
        }

        protected override bool ReleaseHandle()
        {
            return NativeMethods.CryptDestroyKey(handle);
        }
    }

    internal static class Errors
    {
        // Win32Exception(int) reads the system message table, which also
        // holds the NTE_* HRESULTs that CNG and CryptoAPI return. The code is
        // kept in hex in the text, and as NativeErrorCode, because the
        // message alone does not always identify it.
        internal static Win32Exception FromCode(string function, int code)
        {
            string message = string.Format("{0} failed: {1} (0x{2:X8})", function, new Win32Exception(code).Message, code);
            return new Win32Exception(code, message);
        }
    }

    // The private key of one certificate, opened for reading its properties
    // and reading or replacing its DACL. Never reads or exports key material.
    public sealed class CertificatePrivateKey : IDisposable
    {
        // Held so that the certificate context outlives the key handle: when
        // CryptAcquireCertificatePrivateKey does not hand ownership to the
        // caller, the handle belongs to that context.
        private readonly X509Certificate2 _certificate;
        private readonly SafeHandle _handle;
        private readonly bool _isCng;
        private readonly uint _keySpec;

        private CertificatePrivateKey(X509Certificate2 certificate, SafeHandle handle, bool isCng, uint keySpec)
        {
            _certificate = certificate;
            _handle = handle;
            _isCng = isCng;
            _keySpec = keySpec;
        }

        public static CertificatePrivateKey Open(X509Certificate2 certificate)
        {
            if (certificate == null)
            {
                throw new ArgumentNullException("certificate");
            }

            IntPtr raw;
            uint keySpec;
            bool callerFree;
            // X509Certificate.Handle is the certificate's PCCERT_CONTEXT.
            bool ok = NativeMethods.CryptAcquireCertificatePrivateKey(
                certificate.Handle,
                NativeMethods.CRYPT_ACQUIRE_SILENT_FLAG | NativeMethods.CRYPT_ACQUIRE_ALLOW_NCRYPT_KEY_FLAG,
                IntPtr.Zero,
                out raw,
                out keySpec,
                out callerFree);
            int error = Marshal.GetLastWin32Error();
            GC.KeepAlive(certificate);
            if (!ok)
            {
                throw Errors.FromCode("CryptAcquireCertificatePrivateKey", error);
            }

            bool isCng = keySpec == NativeMethods.CERT_NCRYPT_KEY_SPEC;
            SafeHandle handle;
            if (isCng)
            {
                handle = new NCryptObjectHandle(raw, callerFree);
            }
            else
            {
                handle = new CapiProviderHandle(raw, callerFree);
            }
            return new CertificatePrivateKey(certificate, handle, isCng, keySpec);
        }

        // The name of the provider that keeps the certificate's key, as the
        // certificate's CERT_KEY_PROV_INFO_PROP_ID names it, read without
        // opening the key: null when the certificate has no such property
        // (CertGetCertificateContextProperty fails with CRYPT_E_NOT_FOUND)
        // or its pwszProvName is NULL, which CryptAcquireContext and
        // NCryptOpenStorageProvider read as the default provider. Any other
        // failure throws: a caller must not take an unread name for a
        // provider that comes with Windows.
        // wincrypt.h: the property is not set on the certificate.
        private const int CRYPT_E_NOT_FOUND = unchecked((int)0x80092004);

        public static string GetKeyProviderName(X509Certificate2 certificate)
        {
            if (certificate == null)
            {
                throw new ArgumentNullException("certificate");
            }

            uint size = 0;
            try
            {
                if (!NativeMethods.CertGetCertificateContextProperty(certificate.Handle, NativeMethods.CERT_KEY_PROV_INFO_PROP_ID, IntPtr.Zero, ref size))
                {
                    int error = Marshal.GetLastWin32Error();
                    if (error == CRYPT_E_NOT_FOUND)
                    {
                        return null;
                    }
                    throw Errors.FromCode("CertGetCertificateContextProperty(CERT_KEY_PROV_INFO_PROP_ID)", error);
                }
                if (size == 0)
                {
                    return null;
                }
                IntPtr buffer = Marshal.AllocHGlobal((int)size);
                try
                {
                    if (!NativeMethods.CertGetCertificateContextProperty(certificate.Handle, NativeMethods.CERT_KEY_PROV_INFO_PROP_ID, buffer, ref size))
                    {
                        throw Errors.FromCode("CertGetCertificateContextProperty(CERT_KEY_PROV_INFO_PROP_ID)", Marshal.GetLastWin32Error());
                    }
                    // CRYPT_KEY_PROV_INFO { LPWSTR pwszContainerName;
                    // LPWSTR pwszProvName; ... }: the second pointer, whose
                    // string lives in the same buffer.
                    IntPtr name = Marshal.ReadIntPtr(buffer, IntPtr.Size);
                    return name == IntPtr.Zero ? null : Marshal.PtrToStringUni(name);
                }
                finally
                {
                    Marshal.FreeHGlobal(buffer);
                }
            }
            finally
            {
                GC.KeepAlive(certificate);
            }
        }

        public bool IsCng
        {
            get { return _isCng; }
        }

        public string GetProviderName()
        {
            if (!_isCng)
            {
                return AnsiString(GetProvParam(_handle, NativeMethods.PP_NAME, 0, "CryptGetProvParam(PP_NAME)"));
            }

            // A key handle does not name its provider; the provider handle
            // does. That handle is a new reference the caller must free with
            // NCryptFreeObject, hence ownsHandle = true.
            byte[] value = GetNCryptProperty(_handle, NativeMethods.NCRYPT_PROVIDER_HANDLE_PROPERTY, NativeMethods.NCRYPT_SILENT_FLAG);
            if (value.Length < IntPtr.Size)
            {
                throw new InvalidOperationException(string.Format(
                    "NCryptGetProperty({0}) returned {1} bytes, which is not a handle.", NativeMethods.NCRYPT_PROVIDER_HANDLE_PROPERTY, value.Length));
            }
            IntPtr raw = IntPtr.Size == 8 ? new IntPtr(BitConverter.ToInt64(value, 0)) : new IntPtr(BitConverter.ToInt32(value, 0));
            using (NCryptObjectHandle provider = new NCryptObjectHandle(raw, true))
            {
                return UnicodeString(GetNCryptProperty(provider, NativeMethods.NCRYPT_NAME_PROPERTY, NativeMethods.NCRYPT_SILENT_FLAG));
            }
        }

        // The name that identifies the key in its provider's storage: for the
        // Microsoft software providers, the name of the key file under
        // ProgramData\Microsoft\Crypto.
        public string GetContainerName()
        {
            if (!_isCng)
            {
                return AnsiString(GetProvParam(_handle, NativeMethods.PP_UNIQUE_CONTAINER, 0, "CryptGetProvParam(PP_UNIQUE_CONTAINER)"));
            }

            byte[] value;
            int status = TryGetNCryptProperty(_handle, NativeMethods.NCRYPT_UNIQUE_NAME_PROPERTY, NativeMethods.NCRYPT_SILENT_FLAG, out value);
            if (status == 0)
            {
                return UnicodeString(value);
            }
            // The unique name is optional for a KSP ("some providers may not
            // return this property"); the key name is then the only
            // identifier there is.
            if (status != NativeMethods.NTE_NOT_SUPPORTED && status != NativeMethods.NTE_NOT_FOUND)
            {
                throw Errors.FromCode("NCryptGetProperty(" + NativeMethods.NCRYPT_UNIQUE_NAME_PROPERTY + ")", status);
            }
            return UnicodeString(GetNCryptProperty(_handle, NativeMethods.NCRYPT_NAME_PROPERTY, NativeMethods.NCRYPT_SILENT_FLAG));
        }

        // Whether the key may leave its provider (for example in a PFX
        // export), or null when the provider does not say (smart card and
        // TPM providers need not support the query).
        public bool? GetExportable()
        {
            if (_isCng)
            {
                byte[] value;
                int status = TryGetNCryptProperty(_handle, NativeMethods.NCRYPT_EXPORT_POLICY_PROPERTY, NativeMethods.NCRYPT_SILENT_FLAG, out value);
                if (status != 0 || value.Length < 4)
                {
                    return null;
                }
                uint policy = BitConverter.ToUInt32(value, 0);
                return (policy & (NativeMethods.NCRYPT_ALLOW_EXPORT_FLAG | NativeMethods.NCRYPT_ALLOW_PLAINTEXT_EXPORT_FLAG)) != 0;
            }

            // CryptoAPI keeps the permission on the key, not on the container.
            IntPtr rawKey;
            if (!NativeMethods.CryptGetUserKey(_handle, _keySpec, out rawKey))
            {
                return null;
            }
            using (CapiKeyHandle key = new CapiKeyHandle(rawKey))
            {
                byte[] permissions = new byte[4];
                uint length = (uint)permissions.Length;
                if (!NativeMethods.CryptGetKeyParam(key, NativeMethods.KP_PERMISSIONS, permissions, ref length, 0) || length < 4)
                {
                    return null;
                }
                return (BitConverter.ToUInt32(permissions, 0) & NativeMethods.CRYPT_EXPORT) != 0;
            }
        }

        // The key's security descriptor in self-relative binary form, with
        // the DACL only.
        public byte[] GetSecurityDescriptor()
        {
            if (_isCng)
            {
                return GetNCryptProperty(
                    _handle,
                    NativeMethods.NCRYPT_SECURITY_DESCR_PROPERTY,
                    NativeMethods.DACL_SECURITY_INFORMATION | NativeMethods.NCRYPT_SILENT_FLAG);
            }
            return GetProvParam(
                _handle,
                NativeMethods.PP_KEYSET_SEC_DESCR,
                NativeMethods.DACL_SECURITY_INFORMATION,
                "CryptGetProvParam(PP_KEYSET_SEC_DESCR)");
        }

        // Replaces the key's DACL with the one in the self-relative
        // descriptor; DACL_SECURITY_INFORMATION makes the provider ignore any
        // owner, group or SACL in it.
        public void SetSecurityDescriptor(byte[] descriptor)
        {
            if (descriptor == null)
            {
                throw new ArgumentNullException("descriptor");
            }

            if (_isCng)
            {
                int status = NativeMethods.NCryptSetProperty(
                    _handle,
                    NativeMethods.NCRYPT_SECURITY_DESCR_PROPERTY,
                    descriptor,
                    (uint)descriptor.Length,
                    NativeMethods.DACL_SECURITY_INFORMATION | NativeMethods.NCRYPT_SILENT_FLAG);
                if (status != 0)
                {
                    throw Errors.FromCode("NCryptSetProperty(" + NativeMethods.NCRYPT_SECURITY_DESCR_PROPERTY + ")", status);
                }
                return;
            }

            if (!NativeMethods.CryptSetProvParam(_handle, NativeMethods.PP_KEYSET_SEC_DESCR, descriptor, NativeMethods.DACL_SECURITY_INFORMATION))
            {
                throw Errors.FromCode("CryptSetProvParam(PP_KEYSET_SEC_DESCR)", Marshal.GetLastWin32Error());
            }
        }

        public void Dispose()
        {
            _handle.Dispose();
            GC.KeepAlive(_certificate);
        }

        // Both providers follow the documented two-call pattern: a NULL
        // buffer returns the size, a second call fills the buffer. A value
        // (the security descriptor) may grow between the two calls when
        // another process changes it, so a too-small buffer is retried.
        // Providers differ in what the size query returns: ERROR_SUCCESS, or
        // ERROR_INSUFFICIENT_BUFFER / NTE_BUFFER_TOO_SMALL together with the
        // size (PowerShell's own certificate provider accepts both for the
        // "Security Descr" property), so any of them with a size goes on.
        private static bool IsSizeAnswer(int status, uint size)
        {
            return status == 0 || (size > 0 && (status == NativeMethods.ERROR_INSUFFICIENT_BUFFER || status == NativeMethods.NTE_BUFFER_TOO_SMALL));
        }

        private static int TryGetNCryptProperty(SafeHandle obj, string property, uint flags, out byte[] value)
        {
            value = null;
            for (int attempt = 0; ; attempt++)
            {
                uint size;
                int status = NativeMethods.NCryptGetProperty(obj, property, null, 0, out size, flags);
                if (!IsSizeAnswer(status, size))
                {
                    return status;
                }
                byte[] buffer = new byte[size];
                status = NativeMethods.NCryptGetProperty(obj, property, buffer, size, out size, flags);
                if ((status == NativeMethods.NTE_BUFFER_TOO_SMALL || status == NativeMethods.ERROR_INSUFFICIENT_BUFFER) && attempt < 2)
                {
                    continue;
                }
                if (status != 0)
                {
                    return status;
                }
                // pcbResult is the number of bytes actually copied.
                if (size < buffer.Length)
                {
                    Array.Resize(ref buffer, (int)size);
                }
                value = buffer;
                return 0;
            }
        }

        private static byte[] GetNCryptProperty(SafeHandle obj, string property, uint flags)
        {
            byte[] value;
            int status = TryGetNCryptProperty(obj, property, flags, out value);
            if (status != 0)
            {
                throw Errors.FromCode("NCryptGetProperty(" + property + ")", status);
            }
            return value;
        }

        private static byte[] GetProvParam(SafeHandle provider, uint param, uint flags, string description)
        {
            for (int attempt = 0; ; attempt++)
            {
                uint size = 0;
                if (!NativeMethods.CryptGetProvParam(provider, param, null, ref size, flags))
                {
                    throw Errors.FromCode(description, Marshal.GetLastWin32Error());
                }
                byte[] buffer = new byte[size];
                if (!NativeMethods.CryptGetProvParam(provider, param, buffer, ref size, flags))
                {
                    int error = Marshal.GetLastWin32Error();
                    if (error == NativeMethods.ERROR_MORE_DATA && attempt < 2)
                    {
                        continue;
                    }
                    throw Errors.FromCode(description, error);
                }
                // An empty answer is no security descriptor at all; say so
                // here rather than fail later on an empty byte array.
                if (size == 0)
                {
                    throw new InvalidOperationException(description + " returned no data.");
                }
                if (size < buffer.Length)
                {
                    Array.Resize(ref buffer, (int)size);
                }
                return buffer;
            }
        }

        // CNG string properties are null-terminated UTF-16 (LPCWSTR).
        private static string UnicodeString(byte[] value)
        {
            return CutAtNul(Encoding.Unicode.GetString(value));
        }

        // PP_NAME and PP_UNIQUE_CONTAINER are null-terminated CHAR strings,
        // in the system's ANSI code page, which is what Encoding.Default is
        // on the .NET Framework.
        private static string AnsiString(byte[] value)
        {
            return CutAtNul(Encoding.Default.GetString(value));
        }

        private static string CutAtNul(string text)
        {
            int end = text.IndexOf('\0');
            return end < 0 ? text : text.Substring(0, end);
        }
    }
}
'@
}

function Assert-Thumbprint {
    # Thumbprints arrive as X509Certificate2.Thumbprint spells them (40
    # uppercase hex digits, normalised by the controller). Anything else is a
    # controller bug, and would otherwise just be reported as "not found".
    # \z, not $: in .NET regular expressions $ also matches before a final
    # newline.
    param(
        [AllowEmptyString()]
        [AllowNull()]
        [string]$Value,

        [Parameter(Mandatory)]
        [string]$Name
    )

    if ($Value -cnotmatch '^[0-9A-F]{40}\z') {
        throw "Invalid ${Name} '$Value': a certificate thumbprint is 40 uppercase hexadecimal digits."
    }
}

function Assert-StoreName {
    param(
        [AllowEmptyString()]
        [AllowNull()]
        [string]$Value
    )

    if ([string]::IsNullOrWhiteSpace($Value)) {
        throw 'Invalid StoreName: give the name of a LocalMachine certificate store such as My.'
    }
}

function Find-LocalMachineCertificate {
    # The certificate with this thumbprint in LocalMachine\<StoreName>, or
    # $null when the store or the certificate is not there. The caller owns
    # the object it gets and must release it with Reset().
    #
    # An archived certificate (CERT_ARCHIVED_PROP_ID, which automatic
    # enrollment sets on a certificate it renewed) is skipped by every
    # enumeration of the store, and so not found here, unless
    # -IncludeArchived, which opens the store with OpenFlags.IncludeArchived
    # (CERT_STORE_ENUM_ARCHIVED_FLAG).
    #
    # Reset() rather than Dispose() throughout: X509Certificate.Dispose and
    # X509Store.Dispose exist only from .NET Framework 4.6, and Windows
    # PowerShell 5.1 also runs on 4.5.2. Reset() and Close() exist in every
    # version and release the same native handles.
    param(
        [Parameter(Mandatory)]
        [string]$StoreName,

        [Parameter(Mandatory)]
        [string]$Thumbprint,

        [switch]$IncludeArchived
    )

    $store = [System.Security.Cryptography.X509Certificates.X509Store]::new(
        $StoreName, [System.Security.Cryptography.X509Certificates.StoreLocation]::LocalMachine)
    try {
        try {
            # OpenExistingOnly: without it, opening a store name that does not
            # exist creates that store, and a read must change nothing.
            $openFlags = [System.Security.Cryptography.X509Certificates.OpenFlags]::ReadOnly -bor [System.Security.Cryptography.X509Certificates.OpenFlags]::OpenExistingOnly
            if ($IncludeArchived) {
                $openFlags = $openFlags -bor [System.Security.Cryptography.X509Certificates.OpenFlags]::IncludeArchived
            }
            $store.Open($openFlags)
        }
        catch {
            # ERROR_FILE_NOT_FOUND: the store does not exist, so neither does
            # the certificate. .NET reports the Win32 code either as is or as
            # the HRESULT 0x80070002, depending on the version.
            $cause = Get-UnderlyingException -ErrorRecord $_
            if ($cause.HResult -eq 2 -or $cause.HResult -eq -2147024894) {
                return $null
            }
            throw (New-ContextException -Context "Cannot open the certificate store LocalMachine\$StoreName" -ErrorRecord $_)
        }

        # Every read of X509Store.Certificates creates a new object for each
        # certificate in the store; all but the match are released here.
        $found = $null
        foreach ($candidate in $store.Certificates) {
            if ($null -eq $found -and [string]::Equals($candidate.Thumbprint, $Thumbprint, [System.StringComparison]::OrdinalIgnoreCase)) {
                $found = $candidate
            }
            else {
                $candidate.Reset()
            }
        }
        $found
    }
    finally {
        $store.Close()
    }
}

function Get-KeyDescription {
    # How messages and ShouldProcess name the key.
    param(
        [Parameter(Mandatory)]
        [string]$StoreName,

        [Parameter(Mandatory)]
        [string]$Thumbprint
    )

    "the private key of certificate $Thumbprint in LocalMachine\$StoreName"
}

function Open-CertificatePrivateKey {
    param(
        [Parameter(Mandatory)]
        [System.Security.Cryptography.X509Certificates.X509Certificate2]$Certificate,

        [Parameter(Mandatory)]
        [string]$What
    )

    try {
        [Pkiops.KeyfactorCommand.Certificates.CertificatePrivateKey]::Open($Certificate)
    }
    catch {
        throw (New-ContextException -Context "Cannot open $What" -ErrorRecord $_)
    }
}

function ConvertTo-KeySecurityDescriptor {
    # RawSecurityDescriptor keeps every ACE exactly as stored: its order, its
    # flags and its access mask bit for bit. The alternatives change what
    # they read or write: CommonSecurityDescriptor reorders and merges ACEs,
    # and the CryptoKeyAccessRule and FileSystemAccessRule constructors add
    # SYNCHRONIZE to allow masks (and the latter rejects the generic bits
    # that the MMC writes).
    param(
        [Parameter(Mandatory)]
        [byte[]]$Binary,

        [Parameter(Mandatory)]
        [string]$What
    )

    $descriptor = [System.Security.AccessControl.RawSecurityDescriptor]::new($Binary, 0)
    # No DACL, or a NULL DACL, grants everyone full access. That cannot be
    # reported as a list of entries, and adding one entry would take access
    # away from everyone else, so it is left to a person to look at.
    if ($null -eq $descriptor.DiscretionaryAcl) {
        throw "$What has no DACL (a NULL DACL), which gives everyone full access; this module does not manage such a key."
    }
    $descriptor
}

function Get-KeyAclEntries {
    # The DACL as the contract's list of allow and deny entries.
    param(
        [Parameter(Mandatory)]
        [System.Security.AccessControl.RawSecurityDescriptor]$Descriptor
    )

    $entries = [System.Collections.Generic.List[object]]::new()
    foreach ($ace in $Descriptor.DiscretionaryAcl) {
        # QualifiedAce covers the ACEs that allow or deny one SID (CommonAce,
        # ObjectAce). CompoundAce and CustomAce name no single SID with an
        # allow or deny meaning, and none of the key providers writes them.
        if ($ace -isnot [System.Security.AccessControl.QualifiedAce]) {
            continue
        }
        if ($ace.AceQualifier -eq [System.Security.AccessControl.AceQualifier]::AccessAllowed) {
            $type = 'allow'
        }
        elseif ($ace.AceQualifier -eq [System.Security.AccessControl.AceQualifier]::AccessDenied) {
            $type = 'deny'
        }
        else {
            # Audit and alarm ACEs belong in a SACL; a DACL should not hold any.
            continue
        }
        $entries.Add(@{
                sid = $ace.SecurityIdentifier.Value
                name = Get-SidDisplayName -Sid $ace.SecurityIdentifier
                type = $type
                # KnownAce.AccessMask is the mask as a signed Int32, exactly
                # as stored: 0xD01F01FF reads as -803274241.
                rights = $ace.AccessMask
                inherited = $ace.IsInherited
            })
    }
    , $entries
}

function Get-KeyOpenFailure {
    # What Windows' error for a private key that would not open says about
    # the key: 'missing', 'denied', 'missing_or_denied' or 'unavailable'.
    #
    # NTE_BAD_KEYSET is the one code that says both. CryptAcquireContext's
    # documentation: "The key container could not be opened. A common cause
    # of this error is that the key container does not exist. ... This error
    # code can also indicate that access to an existing key container is
    # denied." The Microsoft software providers give it for a key file that
    # is gone and for one whose ACL shuts the caller out alike, and nothing
    # this script may call without opening the key tells the two apart, so
    # it is reported as what it is: either. Only a code that can mean
    # nothing but absence is 'missing'.
    #
    # NTE_NOT_FOUND and ERROR_FILE_NOT_FOUND say that as much only from a
    # provider that comes with Windows and keeps its keys in files:
    # Microsoft's software key storage provider and cryptographic service
    # providers, or the default provider, when the certificate names none.
    # Another provider (an HSM's, a smart card's, the TPM's) gives them by its
    # own rules, for a device it cannot reach or a provider that is not
    # installed as well, and importing over its key would give the
    # certificate a copy of that key in software instead: from such a
    # provider they are 'unavailable'.
    param(
        [Parameter(Mandatory)]
        [System.Exception]$Cause,

        # The certificate's provider (GetKeyProviderName); empty for none.
        [AllowEmptyString()]
        [AllowNull()]
        [string]$ProviderName
    )

    # Win32Exception keeps the code CryptAcquireCertificatePrivateKey set
    # (an NTE_* HRESULT or a Win32 error) as NativeErrorCode; other
    # exceptions carry an HRESULT. Both are compared as signed 32-bit values.
    $code = if ($Cause -is [System.ComponentModel.Win32Exception]) { $Cause.NativeErrorCode } else { $Cause.HResult }
    $missing = @(
        -2146885621, # 0x8009200B CRYPT_E_NO_KEY_PROPERTY: the certificate names no key
        -2146893811  # 0x8009000D NTE_NO_KEY: the container holds no key of its kind
    )
    $notFound = @(
        -2146893807, # 0x80090011 NTE_NOT_FOUND
        2, # ERROR_FILE_NOT_FOUND
        -2147024894  # 0x80070002, the same as an HRESULT
    )
    # The names wincrypt.h and ncrypt.h give them (MS_KEY_STORAGE_PROVIDER,
    # MS_DEF_PROV, MS_ENHANCED_PROV, MS_STRONG_PROV, MS_ENH_RSA_AES_PROV and
    # its XP name, MS_DEF_RSA_SIG_PROV, MS_DEF_RSA_SCHANNEL_PROV,
    # MS_DEF_DSS_PROV, MS_DEF_DSS_DH_PROV, MS_ENH_DSS_DH_PROV,
    # MS_DEF_DH_SCHANNEL_PROV). -contains compares them ignoring case, as
    # Windows looks providers up.
    $windowsSoftwareProviders = @(
        'Microsoft Software Key Storage Provider',
        'Microsoft Base Cryptographic Provider v1.0',
        'Microsoft Enhanced Cryptographic Provider v1.0',
        'Microsoft Strong Cryptographic Provider',
        'Microsoft Enhanced RSA and AES Cryptographic Provider',
        'Microsoft Enhanced RSA and AES Cryptographic Provider (Prototype)',
        'Microsoft RSA Signature Cryptographic Provider',
        'Microsoft RSA SChannel Cryptographic Provider',
        'Microsoft Base DSS Cryptographic Provider',
        'Microsoft Base DSS and Diffie-Hellman Cryptographic Provider',
        'Microsoft Enhanced DSS and Diffie-Hellman Cryptographic Provider',
        'Microsoft DH SChannel Cryptographic Provider'
    )
    $fromWindows = [string]::IsNullOrEmpty($ProviderName) -or $windowsSoftwareProviders -contains $ProviderName
    $denied = @(
        5, # ERROR_ACCESS_DENIED
        -2147024891, # 0x80070005 E_ACCESSDENIED
        -2146893808  # 0x80090010 NTE_PERM ("Access denied.")
    )
    $state = 'unavailable'
    if ($code -eq -2146893802) {
        # 0x80090016 NTE_BAD_KEYSET
        $state = 'missing_or_denied'
    }
    elseif ($missing -contains $code -or ($fromWindows -and $notFound -contains $code)) {
        $state = 'missing'
    }
    elseif ($denied -contains $code) {
        $state = 'denied'
    }
    @{
        key_error = $Cause.Message
        key_error_code = $code
        key_state = $state
        key_provider_name = if ([string]::IsNullOrEmpty($ProviderName)) { $null } else { $ProviderName }
    }
}

function Get-CertificateKeyReport {
    # The contract's key report: found, archived, has_private_key, key, acl,
    # and when the key would not open key_error, key_error_code, key_state
    # and key_provider_name (see Get-KeyOpenFailure). Opens the key only to read its properties and its
    # DACL; with -OpenOnly, only to see that it opens, reading nothing from
    # it: providers such as a TPM or an HSM need not support the "Security
    # Descr" property, and a caller that only needs a usable key must not
    # fail on them. With -IncludeArchived an archived certificate is found
    # too, and the report says archived (see Find-LocalMachineCertificate).
    param(
        [Parameter(Mandatory)]
        [string]$StoreName,

        [Parameter(Mandatory)]
        [string]$Thumbprint,

        [switch]$OpenOnly,

        [switch]$IncludeArchived
    )

    $report = @{
        found = $false
        has_private_key = $false
        key = $null
        acl = [System.Collections.Generic.List[object]]::new()
    }

    $certificate = Find-LocalMachineCertificate -StoreName $StoreName -Thumbprint $Thumbprint -IncludeArchived:$IncludeArchived
    if ($null -eq $certificate) {
        return $report
    }
    try {
        $report['found'] = $true
        # X509Certificate2.Archived: whether CERT_ARCHIVED_PROP_ID is set.
        $report['archived'] = $certificate.Archived
        # HasPrivateKey says the certificate refers to a private key; whether
        # that key can be opened is only known once it is opened below.
        $report['has_private_key'] = $certificate.HasPrivateKey
        if (-not $certificate.HasPrivateKey) {
            return $report
        }

        $what = Get-KeyDescription -StoreName $StoreName -Thumbprint $Thumbprint
        try {
            $key = Open-CertificatePrivateKey -Certificate $certificate -What $what
        }
        catch {
            # Reported, not thrown: what the controller may do about a key
            # that will not open depends on why (Get-KeyOpenFailure), and on
            # whose error it is.
            $cause = Get-UnderlyingException -ErrorRecord $_
            try {
                $providerName = [Pkiops.KeyfactorCommand.Certificates.CertificatePrivateKey]::GetKeyProviderName($certificate)
            }
            catch {
                # Without the provider's name a "not found" cannot be told
                # from a device that did not answer: fail rather than guess.
                throw (New-ContextException -Context "Cannot open $what ($($cause.Message)), nor read which provider keeps it" -ErrorRecord $_)
            }
            $failure = Get-KeyOpenFailure -Cause $cause -ProviderName $providerName
            foreach ($name in $failure.Keys) {
                $report[$name] = $failure[$name]
            }
            return $report
        }
        try {
            if ($OpenOnly) {
                return $report
            }
            $binary = $null
            try {
                $report['key'] = @{
                    provider = if ($key.IsCng) { 'cng' } else { 'capi' }
                    provider_name = $key.GetProviderName()
                    container = $key.GetContainerName()
                    exportable = $key.GetExportable()
                }
                $binary = $key.GetSecurityDescriptor()
            }
            catch {
                throw (New-ContextException -Context "Cannot read $what" -ErrorRecord $_)
            }
            $descriptor = ConvertTo-KeySecurityDescriptor -Binary $binary -What $what
            $report['acl'] = Get-KeyAclEntries -Descriptor $descriptor
        }
        finally {
            # The key handle before the certificate: when the handle is not
            # ours to free, it lives in the certificate's context.
            $key.Dispose()
        }
    }
    finally {
        $certificate.Reset()
    }
    $report
}

function Get-CurrentIdentityReport {
    # Who this script runs as, as the access check of a key's DACL sees it:
    # the token's user SID and the group SIDs WindowsIdentity.Groups lists
    # (the enabled groups; deny-only and logon SIDs are left out). The
    # controller uses it to refuse an ACL change that would shut this
    # account, and so every later run, out of the key.
    $identity = [System.Security.Principal.WindowsIdentity]::GetCurrent()
    try {
        $groups = [System.Collections.Generic.List[string]]::new()
        foreach ($group in $identity.Groups) {
            $groups.Add($group.Value)
        }
        @{
            sid = $identity.User.Value
            groups = $groups
        }
    }
    finally {
        $identity.Dispose()
    }
}

function Get-KeyAclPlan {
    # Validates every key ACL operation before anything is read or written,
    # so malformed input cannot leave a half-applied ACL.
    param(
        [AllowEmptyCollection()]
        [object[]]$OperationList
    )

    $plan = [System.Collections.Generic.List[object]]::new()
    $index = 0
    foreach ($op in $OperationList) {
        if ($op -isnot [System.Collections.IDictionary]) {
            throw "Key ACL operation #$index is not a dictionary with the keys sid, action and rights."
        }
        $sidText = $op['sid']
        $action = $op['action']
        $rights = $op['rights']
        $label = "key ACL operation #$index (sid '$sidText', action '$action')"

        if ($sidText -isnot [string] -or -not (Test-SidString -Value $sidText)) {
            throw "Invalid ${label}: sid must be a SID string such as S-1-5-20."
        }
        $sid = $null
        try {
            $sid = [System.Security.Principal.SecurityIdentifier]::new($sidText)
        }
        catch {
            throw (New-ContextException -Context "Invalid $label" -ErrorRecord $_)
        }
        if ($action -isnot [string] -or @('set', 'remove') -cnotcontains $action) {
            throw "Invalid ${label}: action must be 'set' or 'remove'."
        }
        if ($action -ceq 'set') {
            # JSON numbers reach the script as Int32 or Int64. The mask must
            # be the signed 32-bit form the probe reports; strings, doubles
            # and the unsigned spelling are refused rather than converted,
            # so that a controller bug cannot become a different ACE. Zero
            # would be an entry that grants nothing.
            $validMask = ($rights -is [int] -or $rights -is [long]) -and
                $rights -ge [int]::MinValue -and $rights -le [int]::MaxValue -and $rights -ne 0
            if (-not $validMask) {
                throw "Invalid ${label}: rights must be a non-zero access mask as a signed 32-bit integer (for example -803274241 for 0xD01F01FF)."
            }
            $rights = [int]$rights
        }
        elseif ($null -ne $rights) {
            throw "Invalid ${label}: a remove takes no rights."
        }

        $plan.Add([pscustomobject]@{
                Sid = $sid
                SidText = $sid.Value
                Action = $action
                Rights = $rights
                Label = $label
            })
        $index++
    }
    , $plan
}

function Edit-KeyDacl {
    # Applies one planned operation to the in-memory DACL. Explicit allow
    # ACEs of the SID go; for 'set' exactly one comes back with the mask.
    # Deny ACEs and inherited ACEs are never touched.
    param(
        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Security.AccessControl.RawAcl]$Acl,

        [Parameter(Mandatory)]
        [pscustomobject]$Step
    )

    # Backwards, so that RemoveAce does not shift the entries still to visit.
    for ($i = $Acl.Count - 1; $i -ge 0; $i--) {
        $ace = $Acl[$i]
        if ($ace -is [System.Security.AccessControl.QualifiedAce] -and
            $ace.AceQualifier -eq [System.Security.AccessControl.AceQualifier]::AccessAllowed -and
            -not $ace.IsInherited -and
            $ace.SecurityIdentifier -eq $Step.Sid) {
            $Acl.RemoveAce($i)
        }
    }

    if ($Step.Action -ceq 'set') {
        # Windows evaluates ACEs in order, and the canonical order is
        # explicit deny, explicit allow, inherited. Inserting before the
        # first inherited ACE keeps a canonical DACL canonical; a key's DACL
        # normally has no inherited ACEs, and the entry then goes last.
        $position = $Acl.Count
        for ($i = 0; $i -lt $Acl.Count; $i++) {
            if ($Acl[$i].IsInherited) {
                $position = $i
                break
            }
        }
        # AceFlags.None: a key is not a container, so nothing inherits it.
        # The last argument, opaque, is a byte[] (callback data, none here):
        # $null reaches an array parameter as null, unlike a string one.
        $ace = [System.Security.AccessControl.CommonAce]::new(
            [System.Security.AccessControl.AceFlags]::None,
            [System.Security.AccessControl.AceQualifier]::AccessAllowed,
            $Step.Rights,
            $Step.Sid,
            $false,
            $null)
        $Acl.InsertAce($position, $ace)
    }
}

function Set-CertificateKeyAcl {
    # Applies the planned operations to the certificate's key: read the
    # DACL once, change it in memory, write it back once. One write means
    # the key never has an intermediate ACL (for example a principal removed
    # before its replacement entry is added) and one failure changes nothing.
    # Each operation ShouldProcess approves is added to $Applied once the
    # write has succeeded.
    param(
        [Parameter(Mandatory)]
        [System.Security.Cryptography.X509Certificates.X509Certificate2]$Certificate,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[object]]$Plan,

        # How messages and ShouldProcess name the key (Get-KeyDescription).
        [Parameter(Mandatory)]
        [string]$What,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[object]]$Applied,

        # The script's own PSCmdlet, so that ShouldProcess honours the
        # -WhatIf and -Confirm values the script was invoked with.
        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet]$Cmdlet
    )

    if ($Plan.Count -eq 0) {
        return
    }

    $key = Open-CertificatePrivateKey -Certificate $Certificate -What $What
    try {
        $binary = $null
        try {
            $binary = $key.GetSecurityDescriptor()
        }
        catch {
            throw (New-ContextException -Context "Cannot read the ACL of $What" -ErrorRecord $_)
        }
        $descriptor = ConvertTo-KeySecurityDescriptor -Binary $binary -What $What

        # The re-serialised original, not the bytes read: only a difference
        # made by the operations below may count as a change.
        $before = [byte[]]::new($descriptor.BinaryLength)
        $descriptor.GetBinaryForm($before, 0)

        $approved = [System.Collections.Generic.List[object]]::new()
        foreach ($step in $Plan) {
            $principal = Get-SidDisplayName -Sid $step.Sid
            if ($step.Action -ceq 'set') {
                # Formatted on its own: an account name with braces in it
                # would break a -f format string that also held the name.
                $mask = '0x{0:X8}' -f $step.Rights
                $verb = "Allow $principal ($($step.SidText)) access mask $mask, replacing its explicit allow entries"
            }
            else {
                $verb = "Remove the explicit allow entries of $principal ($($step.SidText))"
            }
            if (-not $Cmdlet.ShouldProcess($What, $verb)) {
                continue
            }
            Edit-KeyDacl -Acl $descriptor.DiscretionaryAcl -Step $step
            $approved.Add($step)
        }
        if ($approved.Count -eq 0) {
            return
        }

        $after = [byte[]]::new($descriptor.BinaryLength)
        $descriptor.GetBinaryForm($after, 0)
        # Operations the key already satisfies (a set to the one entry it
        # has) leave the bytes unchanged; nothing is then written.
        if ([System.Convert]::ToBase64String($before) -cne [System.Convert]::ToBase64String($after)) {
            try {
                $key.SetSecurityDescriptor($after)
            }
            catch {
                throw (New-ContextException -Context "Cannot write the ACL of $What" -ErrorRecord $_)
            }
            $Ansible.Changed = $true
        }

        foreach ($step in $approved) {
            if ($step.Action -ceq 'set') {
                $Applied.Add(@{
                        sid = $step.SidText
                        action = $step.Action
                        rights = $step.Rights
                    })
            }
            else {
                $Applied.Add(@{
                        sid = $step.SidText
                        action = $step.Action
                    })
            }
        }
    }
    finally {
        $key.Dispose()
    }
}

function Set-StoredCertificateKeyAcl {
    # Applies the planned operations to the key of the certificate with this
    # thumbprint in LocalMachine\<StoreName>. The certificate is opened from
    # the store because the ACL belongs to the persisted key the stored
    # certificate refers to (after an import, not the object the import
    # returned); read-only is enough, as the key's ACL is not in the store.
    # An archived certificate counts: its key is the one to change all the
    # same, and "a certificate with this property set is still found with
    # explicit search operations, such as finding a certificate with a
    # specific hash" (CERT_ARCHIVED_PROP_ID, CertSetCertificateContextProperty).
    param(
        [Parameter(Mandatory)]
        [string]$StoreName,

        [Parameter(Mandatory)]
        [string]$Thumbprint,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[object]]$Plan,

        [Parameter(Mandatory)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[object]]$Applied,

        [Parameter(Mandatory)]
        [System.Management.Automation.PSCmdlet]$Cmdlet
    )

    $where = "LocalMachine\$StoreName"
    $certificate = Find-LocalMachineCertificate -StoreName $StoreName -Thumbprint $Thumbprint -IncludeArchived
    if ($null -eq $certificate) {
        throw "Cannot change the private key ACL: certificate $Thumbprint is not in $where."
    }
    try {
        if (-not $certificate.HasPrivateKey) {
            throw "Cannot change the private key ACL: certificate $Thumbprint in $where has no private key."
        }
        $what = Get-KeyDescription -StoreName $StoreName -Thumbprint $Thumbprint
        Set-CertificateKeyAcl -Certificate $certificate -Plan $Plan -What $what -Applied $Applied -Cmdlet $Cmdlet
    }
    finally {
        $certificate.Reset()
    }
}
