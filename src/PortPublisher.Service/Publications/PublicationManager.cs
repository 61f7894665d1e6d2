using System.Collections.Immutable;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PortPublisher.Core.Api;
using PortPublisher.Proxy;
using PortPublisher.Service.Kernel;
using PortPublisher.Service.Logging;
using PortPublisher.Service.State;

namespace PortPublisher.Service.Publications;

/// <summary>
/// What the API and the host see of publications: requests are validated here, then queued to the single writer
/// (<see cref="CommandQueue"/>) that runs <see cref="Publisher"/>. Before the service reports READY,
/// <see cref="StartingAsync"/> restores saved publications and reconciles the kernel's tables with them; a stop ends
/// the writer and the proxies within <see cref="PipelineDeadlines.Shutdown"/>, leaving NAT in the kernel.
/// </summary>
internal sealed class PublicationManager(
    CommandQueue queue,
    PublicationRegistry registry,
    Publisher publisher,
    StateRestorer restorer,
    NatReconciler reconciler,
    NamespaceWatcher watcher,
    LinkWatcher links,
    ParkedRetrier retrier,
    INatBackend nat,
    IProxyHost proxy,
    IHostSysctls sysctls,
    PipelineDeadlines deadlines,
    TimeProvider time,
    ILogger<PublicationManager> logger) : IHostedLifecycleService, IAsyncDisposable
{
    private int _disposed;

    /// <summary>What the API and metrics read: replaced after every change, never mutated (readers need no lock).</summary>
    public ImmutableArray<PublicationDto> Snapshot => registry.Snapshot;

    /// <summary>One publication as readers see it (O(log n)), or null.</summary>
    public PublicationDto? Find(string name) => registry.Find(name);

    public IReadOnlyCollection<ProxyBinding> ProxyBindings => proxy.Bindings;

    /// <summary>A second nftables socket for scrapes, so reading counters never waits for or disturbs the writer.</summary>
    public Netlink.Nft.NftablesBackend? CounterReader => nat.CounterReader;

    /// <summary>Validates at once (a bad request never waits behind other commands), then publishes on the writer.</summary>
    public Task<PublicationDto> PublishAsync(PublishRequest request, CancellationToken cancellationToken = default)
    {
        ValidatedPublish valid;
        try
        {
            valid = PublishValidator.Validate(request);
        }
        catch (PublishException e)
        {
            return Task.FromException<PublicationDto>(e);
        }

        return queue.RunAsync($"publish {valid.Name}", ct => publisher.PublishAsync(valid, ct), cancellationToken);
    }

    public Task<PublicationDto> UnpublishAsync(string name, CancellationToken cancellationToken = default) =>
        queue.RunAsync($"unpublish {name}", _ => publisher.UnpublishAsync(name), cancellationToken);

    /// <summary>Completes when the command queue has reached this point: the writer is alive.</summary>
    public Task<bool> PingAsync(CancellationToken cancellationToken = default) =>
        queue.RunAsync("ping", _ => ValueTask.FromResult(true), cancellationToken);

    public Task<PublicationDto?> GetAsync(string name, CancellationToken cancellationToken = default) =>
        queue.RunAsync("get", _ => ValueTask.FromResult(registry.TryGet(name, out ActivePublication p) ? p.ToDto() : null), cancellationToken);

    public StatusDto Status()
    {
        ImmutableArray<PublicationDto> snap = Snapshot;
        return new StatusDto(Hosting.ServiceVersion.Text, nat.Description, snap.Length, snap.Sum(p => p.Bindings.Count), sysctls.Read());
    }

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        long started = time.GetTimestamp();
        if (nat.Open() is { } why)
        {
            ServiceLog.NftablesUnavailable(logger, why);
        }

        int bindings = await restorer.RestoreAsync(cancellationToken);
        string natState = reconciler.Reconcile(startup: true);

        // Also turns off what a crashed run left on and nothing restored needs.
        sysctls.SyncLocalnet(registry.LocalnetTargets());
        ServiceLog.Restored(logger, registry.Count, bindings, natState, Math.Round(time.GetElapsedTime(started).TotalMilliseconds, 1));
        reconciler.Watch();
        watcher.Start();
        links.Start();
        retrier.Start();
        queue.Start();
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Before Kestrel waits for open requests: those queued behind the writer are answered at once.</summary>
    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        queue.BeginStop();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken) => await DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        // Called by the host when it stops and again by the container that owns the singleton.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        await queue.StopAsync(deadlines.Shutdown / 2);
        reconciler.Dispose();
        await watcher.DisposeAsync();
        links.Dispose();
        await retrier.DisposeAsync();

        // Proxied connections end with the process; NAT elements stay in the kernel so NAT'ed connections survive a
        // restart, and the next start finds its tables in sync.
        TimeSpan left = deadlines.Shutdown - System.Diagnostics.Stopwatch.GetElapsedTime(started);
        try
        {
            await proxy.DisposeAsync().AsTask().WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1));
        }
        catch (TimeoutException)
        {
            ServiceLog.ProxyShutdownTimedOut(logger, deadlines.Shutdown.TotalSeconds);
        }

        // NAT stays, but the guard's repair stops with the service: a flush from now on would open 127/8 to the links.
        sysctls.ReleaseLocalnet();
        foreach (ActivePublication p in registry.All)
        {
            foreach (ActiveBinding b in p.Bindings)
            {
                b.Hold?.Dispose();
            }

            p.Sockets?.Dispose();
            p.Namespace?.Dispose();
        }

        registry.Clear();
        nat.Dispose();
        await queue.DisposeAsync();
    }
}
