namespace PortPublisher.Cni.Spec;

/// <summary>A failure the plugin reports as a CNI error result: <c>{"cniVersion","code","msg","details"}</c> on stdout.</summary>
internal sealed class CniException : Exception
{
    public CniException(int code, string message, string? details = null, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
        Details = details;
    }

    public CniException()
        : this(CniErrorCode.ErrInternal, "internal error")
    {
    }

    public CniException(string message)
        : this(CniErrorCode.ErrInternal, message)
    {
    }

    public CniException(string message, Exception innerException)
        : this(CniErrorCode.ErrInternal, message, null, innerException)
    {
    }

    public int Code { get; }

    public string? Details { get; }
}
