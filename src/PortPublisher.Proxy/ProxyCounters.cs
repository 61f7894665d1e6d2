namespace PortPublisher.Proxy;

/// <summary>Live counters of one binding, updated with Interlocked from every relay; read with <see cref="Snapshot"/>.</summary>
public sealed class ProxyCounters
{
    private readonly long[] _errors = new long[Enum.GetValues<ProxyErrorKind>().Length];
    private long _bytesToTarget;
    private long _bytesToClient;
    private long _active;
    private long _total;

    public void AddToTarget(long bytes) => Interlocked.Add(ref _bytesToTarget, bytes);

    public void AddToClient(long bytes) => Interlocked.Add(ref _bytesToClient, bytes);

    public void Opened()
    {
        Interlocked.Increment(ref _active);
        Interlocked.Increment(ref _total);
    }

    public void Closed() => Interlocked.Decrement(ref _active);

    public void Error(ProxyErrorKind kind) => Interlocked.Increment(ref _errors[(int)kind]);

    public ProxyCountersSnapshot Snapshot()
    {
        var errors = new Dictionary<ProxyErrorKind, long>();
        foreach (ProxyErrorKind k in Enum.GetValues<ProxyErrorKind>())
        {
            errors[k] = Interlocked.Read(ref _errors[(int)k]);
        }

        return new ProxyCountersSnapshot(Interlocked.Read(ref _bytesToTarget), Interlocked.Read(ref _bytesToClient), Interlocked.Read(ref _active), Interlocked.Read(ref _total), errors);
    }
}
