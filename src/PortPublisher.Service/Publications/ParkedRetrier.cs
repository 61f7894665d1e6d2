namespace PortPublisher.Service.Publications;

/// <summary>
/// Every 10 s, while some saved publication is parked (its restore waits on a port someone else holds, the open-file
/// limit, nftables), queues one more try on the writer.
/// </summary>
internal sealed class ParkedRetrier(CommandQueue queue, PublicationRegistry registry, StateRestorer restorer, TimeProvider time) : IAsyncDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private ITimer? _timer;
    private int _queued;

    public void Start() => _timer = time.CreateTimer(_ => Request(), null, Interval, Interval);

    public async ValueTask DisposeAsync()
    {
        if (_timer is not null)
        {
            await _timer.DisposeAsync();
        }
    }

    private void Request()
    {
        // Parked is read off the writer here only as a hint; the retry itself runs on the writer.
        if (registry.Parked.Count == 0 || Interlocked.Exchange(ref _queued, 1) != 0)
        {
            return;
        }

        if (!queue.TryPost("retry parked publications", async ct =>
            {
                Volatile.Write(ref _queued, 0);
                await restorer.RetryParkedAsync(ct);
            }))
        {
            Volatile.Write(ref _queued, 0);
        }
    }
}
