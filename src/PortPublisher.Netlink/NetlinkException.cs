namespace PortPublisher.Netlink;

/// <summary>
/// The kernel refused a request: <see cref="Errno"/> is the positive errno, <see cref="Operation"/> says which
/// of our operations it was, and <see cref="Offset"/> is the extended-ack byte offset of the offending
/// attribute from the start of that message (or -1).
/// </summary>
public sealed class NetlinkException : Exception
{
    public NetlinkException(int errno, string operation, int offset = -1, uint sequence = 0, string? kernelMessage = null)
        : base(Format(errno, operation, offset, kernelMessage))
    {
        Errno = errno;
        Operation = operation;
        Offset = offset;
        Sequence = sequence;
        KernelMessage = kernelMessage;
    }

    public NetlinkException()
    {
        Operation = string.Empty;
    }

    public NetlinkException(string message)
        : base(message)
    {
        Operation = string.Empty;
    }

    public NetlinkException(string message, Exception innerException)
        : base(message, innerException)
    {
        Operation = string.Empty;
    }

    public int Errno { get; }

    public string Operation { get; }

    public int Offset { get; } = -1;

    public uint Sequence { get; }

    public string? KernelMessage { get; }

    public bool IsNotFound => Errno == 2;

    public bool IsAlreadyExists => Errno == 17;

    public bool IsPermissionDenied => Errno == 1;

    private static string Format(int errno, string operation, int offset, string? kernelMessage)
    {
        string text = ErrnoName(errno);
        string where = offset >= 0 ? $" (at byte {offset})" : string.Empty;
        string msg = string.IsNullOrEmpty(kernelMessage) ? string.Empty : $": {kernelMessage}";
        return $"{operation}: {text}{where}{msg}";
    }

    /// <summary>Names the errnos netlink reports, with the C library's text.</summary>
    public static string ErrnoName(int errno) => errno switch
    {
        1 => "EPERM (operation not permitted)",
        2 => "ENOENT (no such file or directory)",
        16 => "EBUSY (device or resource busy)",
        17 => "EEXIST (file exists)",
        22 => "EINVAL (invalid argument)",
        34 => "ERANGE (numerical result out of range)",
        61 => "ENODATA (no data available)",
        85 => "ERESTART (the ruleset changed since it was read)",
        90 => "EMSGSIZE (message too long)",
        95 => "EOPNOTSUPP (operation not supported)",
        105 => "ENOBUFS (no buffer space available)",
        _ => $"errno {errno} ({new System.ComponentModel.Win32Exception(errno).Message})",
    };
}
