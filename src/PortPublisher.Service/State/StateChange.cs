namespace PortPublisher.Service.State;

/// <summary>One journal record: publications written whole, and names removed, committed together.</summary>
public sealed record StateChange(IReadOnlyList<StoredPublication> Put, IReadOnlyList<string> Remove);
