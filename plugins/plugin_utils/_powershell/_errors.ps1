# Shared by every payload: Windows' own error, with the step that failed.
#
# Functions only; the controller inlines this fragment where a payload names
# it in a pkiops-include line.

function Get-UnderlyingException {
    # PowerShell wraps an exception thrown by a .NET method or constructor in
    # a MethodInvocationException ('Exception calling ...', a MethodException),
    # and one thrown by a property getter or setter in a
    # GetValueInvocationException or SetValueInvocationException. A member
    # reached through reflection or late binding (ADSI's COM objects, a
    # DirectoryEntry's Invoke) adds a TargetInvocationException ('Exception
    # has been thrown by the target of an invocation.') around the exception
    # the member threw. The caller wants Windows' own exception and message,
    # so every such wrapper is taken off, however they nest.
    param(
        [Parameter(Mandatory)]
        [System.Management.Automation.ErrorRecord]$ErrorRecord
    )

    $exception = $ErrorRecord.Exception
    while ($null -ne $exception.InnerException -and (
            $exception -is [System.Management.Automation.MethodException] -or
            $exception -is [System.Management.Automation.GetValueInvocationException] -or
            $exception -is [System.Management.Automation.SetValueInvocationException] -or
            $exception -is [System.Reflection.TargetInvocationException])) {
        $exception = $exception.InnerException
    }
    $exception
}

function New-ContextException {
    # Prefixes the failing step to Windows' message. A Win32Exception stays a
    # Win32Exception with the same NativeErrorCode so that the error code
    # survives for the controller; anything else keeps Windows' exception as
    # the inner exception. Never use this where the cause could quote a
    # secret: win_powershell reports inner exceptions as well.
    param(
        [Parameter(Mandatory)]
        [string]$Context,

        [Parameter(Mandatory)]
        [System.Management.Automation.ErrorRecord]$ErrorRecord
    )

    $cause = Get-UnderlyingException -ErrorRecord $ErrorRecord
    $message = '{0}: {1}' -f $Context, $cause.Message
    if ($cause -is [System.ComponentModel.Win32Exception]) {
        [System.ComponentModel.Win32Exception]::new($cause.NativeErrorCode, $message)
    }
    else {
        [System.InvalidOperationException]::new($message, $cause)
    }
}
