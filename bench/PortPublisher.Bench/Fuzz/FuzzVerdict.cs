namespace PortPublisher.Bench.Fuzz;

/// <summary>What one fuzz case came to.</summary>
internal enum FuzzVerdict
{
    /// <summary>The code under test returned.</summary>
    Value,

    /// <summary>It threw the exception its contract documents (NetlinkProtocolException, PortSpecException).</summary>
    Rejected,

    /// <summary>Anything else: another exception type, a broken property, too much time or memory.</summary>
    Failure,
}
