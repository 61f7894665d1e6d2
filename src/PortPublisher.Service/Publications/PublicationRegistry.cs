using System.Collections.Immutable;
using System.Net;
using PortPublisher.Core.Api;
using PortPublisher.Service.Kernel;
using PortPublisher.Service.Metrics;
using PortPublisher.Service.State;

namespace PortPublisher.Service.Publications;

/// <summary>
/// The publications the service carries, touched only by the writer, and what readers see of them: an immutable
/// snapshot replaced after every change (the API and metrics read it without a lock). Each change is saved on its own
/// (<see cref="PersistPut"/>, <see cref="PersistRemove"/>), so its cost does not grow with the number of publications.
/// </summary>
internal sealed class PublicationRegistry(IStateStore store)
{
    private readonly Dictionary<string, ActivePublication> _publications = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (StoredPublication Saved, string Reason)> _parked = new(StringComparer.Ordinal);

    private ImmutableSortedDictionary<string, PublicationDto> _published = ImmutableSortedDictionary.Create<string, PublicationDto>(StringComparer.Ordinal);
    private SnapshotCache? _cache;

    /// <summary>
    /// Every active publication, by name: the writer changes one entry per change (O(log n)), and the array form is
    /// built only when someone reads it after a change, so a publish costs the same with 10 or 10,000 others.
    /// </summary>
    public ImmutableArray<PublicationDto> Snapshot
    {
        get
        {
            ImmutableSortedDictionary<string, PublicationDto> published = _published;
            SnapshotCache? cache = _cache;
            if (cache is not null && ReferenceEquals(cache.Source, published))
            {
                return cache.Array;
            }

            ImmutableArray<PublicationDto> array = [.. published.Values];
            _cache = new SnapshotCache(published, array);
            return array;
        }
    }

    /// <summary>One publication as readers see it, or null.</summary>
    public PublicationDto? Find(string name) => _published.GetValueOrDefault(name);

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
        [.. _publications.Values.Where(p => p.Name != except).SelectMany(p => p.Bindings.Where(p.NeedsLocalnet)).Select(b => b.TargetIp).Distinct()];

    public bool TryGet(string name, out ActivePublication publication) => _publications.TryGetValue(name, out publication!);

    public void Add(ActivePublication publication) => _publications.Add(publication.Name, publication);

    public bool Remove(string name) => _publications.Remove(name);

    public void Clear() => _publications.Clear();

    /// <summary>Saves one publication as it is now (publish).</summary>
    /// <exception cref="PublishException">507 with the reason (full, read-only, gone); the saved state is as it was.</exception>
    public void PersistPut(ActivePublication publication) => Commit([publication.ToStored()], []);

    /// <summary>Saves that a publication is gone (unpublish, a vanished namespace, a rolled-back publish).</summary>
    /// <exception cref="PublishException">507 with the reason; the saved state is as it was.</exception>
    public void PersistRemove(params string[] names) => Commit([], names);

    /// <summary>Rewrites the whole saved state from what is active and parked (after a restore: rare, O(all)).</summary>
    /// <exception cref="PublishException">507 with the reason; the saved state is as it was.</exception>
    public void PersistAll()
    {
        IEnumerable<StoredPublication> all = _publications.Values.Select(p => p.ToStored()).Concat(_parked.Values.Select(p => p.Saved));
        Guard(() => store.Save(new StateFile(StateFile.CurrentVersion, [.. all.OrderBy(p => p.Name, StringComparer.Ordinal)])));
    }

    private void Commit(IReadOnlyCollection<StoredPublication> put, IReadOnlyCollection<string> remove) => Guard(() => store.Commit(put, remove));

    private void Guard(Action write)
    {
        try
        {
            write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            PortPublisherMetrics.Errors.WithLabels("state_write").Inc();
            throw new PublishException(HttpStatusCode.InsufficientStorage, $"cannot save state in {Path.GetDirectoryName(store.PathName)} (is the state directory full or read-only?): {e.Message}", e) { Step = "persist" };
        }
    }

    /// <summary>Rebuilds what readers see from every publication (after a restore).</summary>
    public void RefreshSnapshot()
    {
        _published = _publications.Values.ToImmutableSortedDictionary(p => p.Name, p => p.ToDto(), StringComparer.Ordinal);
        PortPublisherMetrics.Publications.Set(_published.Count);
    }

    /// <summary>Updates what readers see of one publication after it changed or went; what they see of it now (null: gone).</summary>
    public PublicationDto? RefreshSnapshot(string name)
    {
        PublicationDto? dto = _publications.TryGetValue(name, out ActivePublication? p) ? p.ToDto() : null;
        _published = dto is not null ? _published.SetItem(name, dto) : _published.Remove(name);
        PortPublisherMetrics.Publications.Set(_published.Count);
        return dto;
    }

    private sealed record SnapshotCache(ImmutableSortedDictionary<string, PublicationDto> Source, ImmutableArray<PublicationDto> Array);
}
