namespace PortPublisher.Proxy;

/// <summary>
/// A binding's counters at one moment. For TCP, <see cref="Active"/>/<see cref="Total"/> count connections; for UDP, flows.
/// </summary>
public sealed record ProxyCountersSnapshot(long BytesToTarget, long BytesToClient, long Active, long Total, IReadOnlyDictionary<ProxyErrorKind, long> Errors);
