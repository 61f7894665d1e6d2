using System.Net;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using PortPublisher.Service.Logging;

namespace PortPublisher.Service.Publications;

/// <summary>
/// The writer: commands run one at a time, in order, on one reader, so publication state, the allocator, the nftables
/// connection and the proxy are never touched concurrently. Commands are async; a step that waits on anything outside
/// the writer does so with a deadline, so a command always ends. A command whose caller gave up before it started is
/// dropped (nothing changed, logged); one whose caller gave up while it ran completes, and the log says so.
/// </summary>
internal sealed class CommandQueue(ILogger<CommandQueue> logger) : IAsyncDisposable
{
    private readonly Channel<Command> _commands = Channel.CreateUnbounded<Command>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;
    private int _depth;
    private volatile bool _draining;

    /// <summary>Commands waiting to run (the one running is not counted).</summary>
    public int Depth => Volatile.Read(ref _depth);

    /// <summary>Cancelled when the service stops: long waits inside a command end early.</summary>
    public CancellationToken Stopping => _stopping.Token;

    public void Start() => _loop ??= Task.Run(ReadLoop, CancellationToken.None);

    /// <summary>Queues <paramref name="work"/> for <paramref name="what"/> and completes with its result.</summary>
    public Task<T> RunAsync<T>(string what, Func<CancellationToken, ValueTask<T>> work, CancellationToken caller = default)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var command = new Command(what, async ct =>
        {
            try
            {
                done.TrySetResult(await work(ct));
            }
#pragma warning disable CA1031 // the caller gets the exception
            catch (Exception e)
#pragma warning restore CA1031
            {
                done.TrySetException(e);
            }
        }, () => done.TrySetCanceled(caller), caller) { Refuse = e => done.TrySetException(e) };
        Interlocked.Increment(ref _depth);
        if (!_commands.Writer.TryWrite(command))
        {
            Interlocked.Decrement(ref _depth);
            done.TrySetException(new PublishException(HttpStatusCode.ServiceUnavailable, "the service is stopping"));
        }

        return done.Task;
    }

    /// <summary>Queues work of the service's own (a repair, a namespace check); false when stopping.</summary>
    public bool TryPost(string what, Func<CancellationToken, ValueTask> work)
    {
        Interlocked.Increment(ref _depth);
        if (_commands.Writer.TryWrite(new Command(what, work, static () => { }, CancellationToken.None)))
        {
            return true;
        }

        Interlocked.Decrement(ref _depth);
        return false;
    }

    /// <summary>
    /// The service is stopping: no new command is taken, and those still waiting are answered "stopping" instead of
    /// run, so a stop is not held up by a queue of work nobody will see finish. The one running completes.
    /// </summary>
    public void BeginStop()
    {
        _draining = true;
        _commands.Writer.TryComplete();
    }

    /// <summary>Stops taking commands and waits, up to <paramref name="timeout"/>, for the one running to end.</summary>
    public async ValueTask StopAsync(TimeSpan timeout)
    {
        _commands.Writer.TryComplete();
        if (_loop is null)
        {
            return;
        }

        try
        {
            await _loop.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            await _stopping.CancelAsync();
            ServiceLog.WriterStopTimedOut(logger, timeout.TotalSeconds);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(5));
        _stopping.Dispose();
    }

    private async Task ReadLoop()
    {
        await foreach (Command c in _commands.Reader.ReadAllAsync())
        {
            Interlocked.Decrement(ref _depth);
            if (_draining)
            {
                c.Refuse(new PublishException(HttpStatusCode.ServiceUnavailable, "the service is stopping; nothing was changed"));
                continue;
            }

            if (c.Caller.IsCancellationRequested)
            {
                ServiceLog.CommandDropped(logger, c.What);
                c.Cancel();
                continue;
            }

            try
            {
                await c.Run(_stopping.Token);
            }
#pragma warning disable CA1031 // an internal command that throws has a bug; the writer must go on
            catch (Exception e)
#pragma warning restore CA1031
            {
                ServiceLog.CommandFailed(logger, c.What, e.ToString());
            }

            if (c.Caller.IsCancellationRequested)
            {
                ServiceLog.CommandOutlivedCaller(logger, c.What);
            }
        }
    }

    private sealed record Command(string What, Func<CancellationToken, ValueTask> Run, Action Cancel, CancellationToken Caller)
    {
        public Action<Exception> Refuse { get; init; } = static _ => { };
    }
}
