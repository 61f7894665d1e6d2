namespace PortPublisher.Service.Publications;

/// <summary>
/// Every 10 s, while some saved publication is parked (its restore waits on a port someone else holds, the open-file
/// limit, nftables), queues one more try on the writer.
/// </summary>
internal sealed class ParkedRetrier(CommandQueue queue, PublicationRegistry registry, StateRestorer restorer, TimeProvider time) : IAsyncDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly CoalescedCommand _retry = new(queue, "retry parked publications", restorer.RetryParkedAsync);
    private ITimer? _timer;

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
        if (registry.Parked.Count > 0)
        {
            _retry.Request();
        }
    }
}
