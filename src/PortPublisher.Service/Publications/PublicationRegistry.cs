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

    public ImmutableArray<PublicationDto> Snapshot { get; private set; } = [];

    public IReadOnlyCollection<ActivePublication> All => _publications.Values;

    public int Count => _publications.Count;

    public bool Contains(string name) => _publications.ContainsKey(name);

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
            store.Save(new StateFile(StateFile.CurrentVersion, [.. _publications.Values.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => p.ToStored())]));
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
