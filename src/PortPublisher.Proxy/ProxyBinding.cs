using System.Net;
using Microsoft.Extensions.Logging;

namespace PortPublisher.Proxy;

/// <summary>
/// One running binding: a listener on the host and its relays. Disposing stops it: the listener is closed (the port
/// is free at once) and every connection or flow is closed. No stop waits without a deadline: see
/// <see cref="UserlandProxy.StopAsync(ProxyBinding, TimeSpan)"/>.
/// </summary>
public abstract class ProxyBinding : IAsyncDisposable
{
    private readonly Lock _stopGate = new();
    private Task<bool>? _stop;
    private int _stopping;

    private protected ProxyBinding(EndPoint listen, ProxyTarget target, ProxyBindingOptions options, ILogger logger, TimeProvider time)
    {
        Listen = listen;
        Target = target;
        Options = options;
        Logger = logger;
        Time = time;
    }

    public EndPoint Listen { get; }

    public ProxyTarget Target { get; }

    public ProxyBindingOptions Options { get; }

    public ProxyCounters Counters { get; } = new();

    public abstract string Protocol { get; }

    internal ILogger Logger { get; }

    /// <summary>The clock of deadlines: the stop deadline, UDP idle flows, TCP dial timeouts.</summary>
    internal TimeProvider Time { get; }

    /// <summary>A stop was asked for. Read by the relays (on any thread) before they take anything new.</summary>
    internal bool Stopping => Volatile.Read(ref _stopping) != 0;

    /// <summary>Stops the binding with <see cref="UserlandProxy.DefaultStopTimeout"/> as the deadline.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(UserlandProxy.DefaultStopTimeout);
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Stops once: a second call, with any timeout, gets the first call's answer (true: every part of the binding
    /// confirmed; false: the deadline passed first, and the port was released anyway).
    /// </summary>
    internal Task<bool> StopAsync(TimeSpan timeout)
    {
        // Not even Timeout.InfiniteTimeSpan: a stop that may never return is what this method exists to rule out.
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);

        // Under the gate, StopOnceAsync runs only up to its first await: it sets a flag, hands the stop to the relays
        // and starts a timer. None of that can call back into this binding.
        lock (_stopGate)
        {
            return _stop ??= StopOnceAsync(timeout);
        }
    }

    /// <summary>
    /// Starts the stop: the returned task completes once every part of the binding (each event loop, each receive
    /// loop) confirmed that it let go of it, however late that is. Called once, after <see cref="Stopping"/> is set.
    /// </summary>
    private protected abstract Task BeginStop();

    /// <summary>
    /// The deadline passed before <see cref="BeginStop"/>'s task completed: release what can be released without the
    /// parts that did not answer (at least the port), and name those parts for the log.
    /// </summary>
    private protected abstract IReadOnlyList<string> Abandon();

    private async Task<bool> StopOnceAsync(TimeSpan timeout)
    {
        // A full fence: a relay that reads Stopping as false did so before anything below closed or replaced the
        // listener, which each binding's stop relies on (TcpProxyBinding.Abandon says how).
        _ = Interlocked.Exchange(ref _stopping, 1);
        Task released = BeginStop();

        // The timer exists once this line has run, before the first await yields: a test with a FakeTimeProvider can
        // advance it as soon as StopAsync returns.
        await released.WaitAsync(timeout, Time).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (released.IsCompleted)
        {
            ProxyLog.Stopped(Logger, Protocol, Listen, Target.Endpoint);
            return true;
        }

        UserlandProxy.CountStopTimeout();
        foreach (string part in Abandon())
        {
            ProxyLog.StopTimedOut(Logger, Protocol, Listen, Target.Endpoint, part, timeout.TotalMilliseconds);
        }

        return false;
    }
}
