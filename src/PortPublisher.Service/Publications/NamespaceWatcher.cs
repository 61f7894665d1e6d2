using PortPublisher.Netlink;

namespace PortPublisher.Service.Publications;

/// <summary>
/// Notices vanished targets: <c>ip netns del</c> removes the name (inotify tells at once); a <c>/proc/PID/ns/net</c>
/// target goes with its process (checked every second). Each notice queues one check on the writer.
/// </summary>
internal sealed class NamespaceWatcher(CommandQueue queue, Publisher publisher, TimeProvider time) : IAsyncDisposable
{
    private readonly CoalescedCommand _check = new(queue, "check namespaces", _ => publisher.DropVanishedAsync());
    private FileSystemWatcher? _watcher;
    private ITimer? _timer;

    public void Start()
    {
        try
        {
            Directory.CreateDirectory(NetworkNamespace.NetnsRunDir);
            _watcher = new FileSystemWatcher(NetworkNamespace.NetnsRunDir) { EnableRaisingEvents = true };
            _watcher.Deleted += (_, _) => Request();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // Without /run/netns only the timer notices.
        }

        _timer = time.CreateTimer(_ => Request(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    public async ValueTask DisposeAsync()
    {
        _watcher?.Dispose();
        if (_timer is not null)
        {
            await _timer.DisposeAsync();
        }
    }

    private void Request() => _check.Request();
}
