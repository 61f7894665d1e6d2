namespace PortPublisher.Proxy.Tcp;

internal enum PumpOutcome
{
    /// <summary>The source sent FIN; it was forwarded as FIN.</summary>
    Eof,

    /// <summary>Reading the source failed (reset, aborted).</summary>
    ReadFailed,

    /// <summary>Writing to the destination failed.</summary>
    WriteFailed,

    /// <summary>The binding is stopping.</summary>
    Canceled,
}
