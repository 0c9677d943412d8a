# Shared by payloads that read or change the local security policy through
# LSA (user_rights, readiness_info): the LsaPolicy type, Open-LocalPolicy and
# Get-RightHolders. Included by the controller in place of a pkiops-include
# line, after _errors.ps1 and _principals.ps1, whose functions it uses.
#
# Windows API reference for every native call below: ntsecapi.h (advapi32.dll).

$lsaSource = @'
using System;
using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Security.Principal;
using Microsoft.Win32.SafeHandles;

namespace Pkiops.KeyfactorCommand.UserRights
{
    // Access rights for LsaOpenPolicy (ntsecapi.h, "Policy Object Access Rights").
    // Only the values this payload requests are listed.
    [Flags]
    public enum PolicyAccess : uint
    {
        POLICY_VIEW_LOCAL_INFORMATION = 0x00000001,
        POLICY_CREATE_ACCOUNT = 0x00000010,
        POLICY_LOOKUP_NAMES = 0x00000800,
    }

    internal static class NativeMethods
    {
        // LSA_UNICODE_STRING. Length and MaximumLength are byte counts, not
        // character counts; Length excludes any terminating NUL.
        [StructLayout(LayoutKind.Sequential)]
        internal struct LSA_UNICODE_STRING
        {
            public ushort Length;
            public ushort MaximumLength;
            [MarshalAs(UnmanagedType.LPWStr)]
            public string Buffer;
        }

        // LSA_OBJECT_ATTRIBUTES. LsaOpenPolicy does not use the members; its
        // documentation asks for them to be NULL or zero, Length included.
        [StructLayout(LayoutKind.Sequential)]
        internal struct LSA_OBJECT_ATTRIBUTES
        {
            public uint Length;
            public IntPtr RootDirectory;
            public IntPtr ObjectName;
            public uint Attributes;
            public IntPtr SecurityDescriptor;
            public IntPtr SecurityQualityOfService;
        }

        // LSA_ENUMERATION_INFORMATION: one PSID per account.
        [StructLayout(LayoutKind.Sequential)]
        internal struct LSA_ENUMERATION_INFORMATION
        {
            public IntPtr Sid;
        }

        // NTSTATUS LsaOpenPolicy(PLSA_UNICODE_STRING SystemName,
        //     PLSA_OBJECT_ATTRIBUTES ObjectAttributes, ACCESS_MASK DesiredAccess,
        //     PLSA_HANDLE PolicyHandle);
        // SystemName is passed as NULL, which means the local computer.
        [DllImport("advapi32.dll", ExactSpelling = true)]
        internal static extern int LsaOpenPolicy(
            IntPtr SystemName,
            ref LSA_OBJECT_ATTRIBUTES ObjectAttributes,
            uint DesiredAccess,
            out SafeLsaPolicyHandle PolicyHandle);

        // NTSTATUS LsaClose(LSA_HANDLE ObjectHandle);
        [DllImport("advapi32.dll", ExactSpelling = true)]
        internal static extern int LsaClose(IntPtr ObjectHandle);

        // NTSTATUS LsaFreeMemory(PVOID Buffer);
        [DllImport("advapi32.dll", ExactSpelling = true)]
        internal static extern int LsaFreeMemory(IntPtr Buffer);

        // ULONG LsaNtStatusToWinError(NTSTATUS Status);
        [DllImport("advapi32.dll", ExactSpelling = true)]
        internal static extern uint LsaNtStatusToWinError(int Status);

        // NTSTATUS LsaEnumerateAccountsWithUserRight(LSA_HANDLE PolicyHandle,
        //     PLSA_UNICODE_STRING UserRight, PVOID *Buffer, PULONG CountReturned);
        // ULONG is 32 bits on every Windows platform, hence uint.
        [DllImport("advapi32.dll", ExactSpelling = true)]
        internal static extern int LsaEnumerateAccountsWithUserRight(
            SafeLsaPolicyHandle PolicyHandle,
            [In] ref LSA_UNICODE_STRING UserRight,
            out IntPtr Buffer,
            out uint CountReturned);

        // NTSTATUS LsaAddAccountRights(LSA_HANDLE PolicyHandle, PSID AccountSid,
        //     PLSA_UNICODE_STRING UserRights, ULONG CountOfRights);
        // AccountSid is the SID in binary form; a byte[] is pinned and passed
        // as a pointer to its first byte.
        [DllImport("advapi32.dll", ExactSpelling = true)]
        internal static extern int LsaAddAccountRights(
            SafeLsaPolicyHandle PolicyHandle,
            byte[] AccountSid,
            [In] LSA_UNICODE_STRING[] UserRights,
            uint CountOfRights);

        // NTSTATUS LsaRemoveAccountRights(LSA_HANDLE PolicyHandle, PSID AccountSid,
        //     BOOLEAN AllRights, PLSA_UNICODE_STRING UserRights, ULONG CountOfRights);
        // BOOLEAN is a one-byte type, unlike the four-byte BOOL that bool
        // marshals to by default.
        [DllImport("advapi32.dll", ExactSpelling = true)]
        internal static extern int LsaRemoveAccountRights(
            SafeLsaPolicyHandle PolicyHandle,
            byte[] AccountSid,
            [MarshalAs(UnmanagedType.U1)] bool AllRights,
            [In] LSA_UNICODE_STRING[] UserRights,
            uint CountOfRights);
    }

    // Closes the policy handle with LsaClose even if the caller forgets to
    // dispose it or an exception interrupts the script.
    internal sealed class SafeLsaPolicyHandle : SafeHandleZeroOrMinusOneIsInvalid
    {
        public SafeLsaPolicyHandle() : base(true) { }

        protected override bool ReleaseHandle()
        {
            return NativeMethods.LsaClose(handle) == 0;
        }
    }

    public sealed class LsaPolicy : IDisposable
    {
        private const int STATUS_SUCCESS = 0;

        // LsaEnumerateAccountsWithUserRight returns this when no account holds
        // the right. It is a warning-class status (high bit set, not 0xC...)
        // and an empty result, not a failure.
        private const int STATUS_NO_MORE_ENTRIES = unchecked((int)0x8000001A);

        private readonly SafeLsaPolicyHandle _handle;

        private LsaPolicy(SafeLsaPolicyHandle handle)
        {
            _handle = handle;
        }

        public static LsaPolicy Open(PolicyAccess access)
        {
            NativeMethods.LSA_OBJECT_ATTRIBUTES attributes = new NativeMethods.LSA_OBJECT_ATTRIBUTES();

            SafeLsaPolicyHandle handle;
            int status = NativeMethods.LsaOpenPolicy(IntPtr.Zero, ref attributes, (uint)access, out handle);
            if (status != STATUS_SUCCESS)
            {
                if (handle != null)
                {
                    handle.Dispose();
                }
                throw ErrorFromNtStatus(status);
            }
            return new LsaPolicy(handle);
        }

        // The SIDs (as S-1-... strings) of the accounts that hold the right
        // directly. Holding it through group membership is not reported;
        // that is how the LSA stores assignments.
        public string[] GetAccountsWithRight(string right)
        {
            NativeMethods.LSA_UNICODE_STRING lsaRight = ToLsaString(right);
            IntPtr buffer = IntPtr.Zero;
            uint count = 0;

            int status = NativeMethods.LsaEnumerateAccountsWithUserRight(_handle, ref lsaRight, out buffer, out count);
            try
            {
                if (status == STATUS_NO_MORE_ENTRIES)
                {
                    return new string[0];
                }
                if (status != STATUS_SUCCESS)
                {
                    throw ErrorFromNtStatus(status);
                }

                int entrySize = Marshal.SizeOf(typeof(NativeMethods.LSA_ENUMERATION_INFORMATION));
                string[] sids = new string[count];
                for (int i = 0; i < sids.Length; i++)
                {
                    NativeMethods.LSA_ENUMERATION_INFORMATION entry =
                        (NativeMethods.LSA_ENUMERATION_INFORMATION)Marshal.PtrToStructure(
                            IntPtr.Add(buffer, i * entrySize),
                            typeof(NativeMethods.LSA_ENUMERATION_INFORMATION));
                    // The constructor copies the SID, so the string stays
                    // valid after the buffer is freed below.
                    sids[i] = new SecurityIdentifier(entry.Sid).Value;
                }
                return sids;
            }
            finally
            {
                // The buffer belongs to the LSA and must go back through
                // LsaFreeMemory, not Marshal.FreeHGlobal.
                if (buffer != IntPtr.Zero)
                {
                    NativeMethods.LsaFreeMemory(buffer);
                }
            }
        }

        public void AddAccountRight(SecurityIdentifier sid, string right)
        {
            NativeMethods.LSA_UNICODE_STRING[] rights = new NativeMethods.LSA_UNICODE_STRING[] { ToLsaString(right) };
            int status = NativeMethods.LsaAddAccountRights(_handle, ToBinarySid(sid), rights, (uint)rights.Length);
            if (status != STATUS_SUCCESS)
            {
                throw ErrorFromNtStatus(status);
            }
        }

        public void RemoveAccountRight(SecurityIdentifier sid, string right)
        {
            NativeMethods.LSA_UNICODE_STRING[] rights = new NativeMethods.LSA_UNICODE_STRING[] { ToLsaString(right) };
            // AllRights = false: remove only the named right. true would strip
            // every right from the account and delete its LSA account object.
            int status = NativeMethods.LsaRemoveAccountRights(_handle, ToBinarySid(sid), false, rights, (uint)rights.Length);
            if (status != STATUS_SUCCESS)
            {
                throw ErrorFromNtStatus(status);
            }
        }

        public void Dispose()
        {
            _handle.Dispose();
        }

        private static NativeMethods.LSA_UNICODE_STRING ToLsaString(string value)
        {
            if (value == null)
            {
                throw new ArgumentNullException("value");
            }
            // MaximumLength is a USHORT byte count that must also cover the
            // NUL the marshaller appends, so at most 0x7FFE characters fit.
            if (value.Length > 0x7FFE)
            {
                throw new ArgumentException("The string is too long for an LSA_UNICODE_STRING.", "value");
            }

            NativeMethods.LSA_UNICODE_STRING result = new NativeMethods.LSA_UNICODE_STRING();
            result.Buffer = value;
            result.Length = (ushort)(value.Length * sizeof(char));
            result.MaximumLength = (ushort)(result.Length + sizeof(char));
            return result;
        }

        private static byte[] ToBinarySid(SecurityIdentifier sid)
        {
            if (sid == null)
            {
                throw new ArgumentNullException("sid");
            }
            byte[] binary = new byte[sid.BinaryLength];
            sid.GetBinaryForm(binary, 0);
            return binary;
        }

        // LSA functions return NTSTATUS, not Win32 error codes; the message
        // table Win32Exception reads is keyed by the Win32 code. The raw
        // NTSTATUS is kept in the text because some statuses have no
        // Win32 equivalent and would otherwise map to a generic message.
        private static Win32Exception ErrorFromNtStatus(int status)
        {
            int win32Error = (int)NativeMethods.LsaNtStatusToWinError(status);
            string message = string.Format("{0} (NTSTATUS 0x{1:X8})", new Win32Exception(win32Error).Message, status);
            return new Win32Exception(win32Error, message);
        }
    }
}
'@

# Add-Type cannot redefine a type that already exists in this process, so only
# compile when the type is not loaded yet (for example a second payload run in
# the same PowerShell host).
if (-not ([System.Management.Automation.PSTypeName]'Pkiops.KeyfactorCommand.UserRights.LsaPolicy').Type) {
    Add-Type -TypeDefinition $lsaSource
}

function Open-LocalPolicy {
    param(
        [Parameter(Mandatory)]
        [Pkiops.KeyfactorCommand.UserRights.PolicyAccess]$Access
    )

    try {
        [Pkiops.KeyfactorCommand.UserRights.LsaPolicy]::Open($Access)
    }
    catch {
        throw (New-ContextException -Context "Cannot open the local security policy (LsaOpenPolicy, access $Access)" -ErrorRecord $_)
    }
}

function Get-RightHolders {
    # The direct holders of each right, by right: a list of sid, and name
    # with -IncludeNames. A name costs a lookup that may go to a domain
    # controller for every holder, so callers that decide on SIDs alone do
    # not ask for names.
    param(
        [AllowEmptyCollection()]
        [string[]]$RightNames,

        [switch]$IncludeNames
    )

    $holders = @{}
    if ($RightNames.Count -eq 0) {
        return $holders
    }
    # LsaEnumerateAccountsWithUserRight requires POLICY_LOOKUP_NAMES and
    # POLICY_VIEW_LOCAL_INFORMATION; nothing more is requested so that a read
    # cannot modify the policy through this handle.
    $access = [Pkiops.KeyfactorCommand.UserRights.PolicyAccess]::POLICY_LOOKUP_NAMES -bor [Pkiops.KeyfactorCommand.UserRights.PolicyAccess]::POLICY_VIEW_LOCAL_INFORMATION
    $policy = Open-LocalPolicy -Access $access
    try {
        foreach ($right in $RightNames) {
            $sids = $null
            try {
                $sids = $policy.GetAccountsWithRight($right)
            }
            catch {
                throw (New-ContextException -Context "Cannot list the holders of '$right' (LsaEnumerateAccountsWithUserRight)" -ErrorRecord $_)
            }

            # A List keeps zero and one holder as a list in the result
            # instead of being unrolled to nothing or to a single object.
            $entries = [System.Collections.Generic.List[object]]::new()
            foreach ($sidValue in $sids) {
                $sid = [System.Security.Principal.SecurityIdentifier]::new($sidValue)
                $entry = @{ sid = $sid.Value }
                if ($IncludeNames) {
                    $entry['name'] = Get-SidDisplayName -Sid $sid
                }
                $entries.Add($entry)
            }
            $holders[$right] = $entries
        }
    }
    finally {
        $policy.Dispose()
    }
    $holders
}
