using System.Collections.Immutable;
using System.Net;
using PortPublisher.Core.Api;
using PortPublisher.Service.Kernel;
using PortPublisher.Service.Metrics;
using PortPublisher.Service.State;

namespace PortPublisher.Service.Publications;

/// <summary>
/// The publications the service carries, touched only by the writer, and what readers see of them: an immutable
/// snapshot replaced after every change (the API and metrics read it without a lock). <see cref="Persist"/> writes
/// them all to the state store.
/// </summary>
internal sealed class PublicationRegistry(IStateStore store)
{
    private readonly Dictionary<string, ActivePublication> _publications = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (StoredPublication Saved, string Reason)> _parked = new(StringComparer.Ordinal);

    public ImmutableArray<PublicationDto> Snapshot { get; private set; } = [];

    public IReadOnlyCollection<ActivePublication> All => _publications.Values;

    public int Count => _publications.Count;

    /// <summary>Active or parked: either way the name is taken.</summary>
    public bool Contains(string name) => _publications.ContainsKey(name) || _parked.ContainsKey(name);

    /// <summary>
    /// Saved publications that could not be brought back for a reason that may pass (a port held by someone else, the
    /// open-file limit, nftables missing, a slow namespace). They stay in the state file, untouched, and are retried.
    /// </summary>
    public IReadOnlyDictionary<string, (StoredPublication Saved, string Reason)> Parked => _parked;

    public void Park(StoredPublication saved, string reason) => _parked[saved.Name] = (saved, reason);

    public bool Unpark(string name, out StoredPublication saved)
    {
        bool had = _parked.Remove(name, out (StoredPublication Saved, string Reason) p);
        saved = p.Saved;
        return had;
    }

    /// <summary>The target addresses of NAT'ed 127.0.0.0/8 bindings: the links to them need route_localnet.</summary>
    public IReadOnlyCollection<IPAddress> LocalnetTargets(string? except = null) =>
        [.. _publications.Values.Where(p => p.Name != except).SelectMany(p => p.Bindings).Where(b => b.NeedsLocalnet).Select(b => b.TargetIp).Distinct()];

    public bool TryGet(string name, out ActivePublication publication) => _publications.TryGetValue(name, out publication!);

    public void Add(ActivePublication publication) => _publications.Add(publication.Name, publication);

    public bool Remove(string name) => _publications.Remove(name);

    public void Clear() => _publications.Clear();

    /// <summary>Writes the state file.</summary>
    /// <exception cref="PublishException">507 with the reason (full, read-only, gone); the file is as it was.</exception>
    public void Persist()
    {
        try
        {
            IEnumerable<StoredPublication> all = _publications.Values.Select(p => p.ToStored()).Concat(_parked.Values.Select(p => p.Saved));
            store.Save(new StateFile(StateFile.CurrentVersion, [.. all.OrderBy(p => p.Name, StringComparer.Ordinal)]));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            PortPublisherMetrics.Errors.WithLabels("state_write").Inc();
            throw new PublishException(HttpStatusCode.InsufficientStorage, $"cannot write {store.PathName} (is the state directory full or read-only?): {e.Message}", e) { Step = "persist" };
        }
    }

    public void RefreshSnapshot()
    {
        Snapshot = [.. _publications.Values.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => p.ToDto())];
        PortPublisherMetrics.Publications.Set(Snapshot.Length);
    }
}
