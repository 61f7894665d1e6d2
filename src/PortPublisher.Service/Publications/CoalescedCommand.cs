namespace PortPublisher.Service.Publications;

/// <summary>
/// Work the service queues for itself on the writer when something happens (an nftables event, a namespace gone, a
/// timer): a burst of requests while one is already queued is folded into it, so a wedged or busy writer never
/// collects copies.
/// </summary>
internal sealed class CoalescedCommand(CommandQueue queue, string what, Func<CancellationToken, ValueTask> work)
{
    private int _queued;

    /// <summary>Queues the work unless it is queued already (any thread).</summary>
    public void Request()
    {
        if (Interlocked.Exchange(ref _queued, 1) != 0)
        {
            return;
        }

        if (!queue.TryPost(what, ct =>
            {
                // Cleared before the work runs: an event during it asks for one more run, not none.
                Volatile.Write(ref _queued, 0);
                return work(ct);
            }))
        {
            Volatile.Write(ref _queued, 0);
        }
    }
}
