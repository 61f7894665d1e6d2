using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Tmds.Linux;

namespace PortPublisher.Proxy.Internal;

/// <summary>
/// One thread blocked in epoll_wait, running the handlers of the fds registered with it; all TCP relaying happens on
/// these threads (one per CPU, shared by every binding of the process), never on the thread pool. Registrations carry
/// a token, not the fd, so an event still queued for an fd that was closed and reused in the same pass finds no handler.
/// Other threads hand work to a loop with <see cref="Post"/> (an eventfd wakes it).
/// </summary>
internal sealed unsafe class EventLoop
{
    /// <summary>Bytes of the per-loop buffer a copy passes through on its way from one socket to the other.</summary>
    public const int ScratchSize = 64 * 1024;

    private const int MaxEvents = 256;
    private const int TickIntervalMs = 50;
    private static readonly Lazy<EventLoop[]> s_group = new(() =>
        [.. Enumerable.Range(0, Math.Clamp(Environment.ProcessorCount, 1, 64)).Select(i => new EventLoop(i))]);

    private readonly int _epfd;
    private readonly int _wakeFd;
    private readonly Thread _thread;
    private readonly ConcurrentQueue<Action> _posted = new();
    private readonly Dictionary<ulong, (IEventHandler Handler, int Tag)> _handlers = [];
    private readonly List<ILoopTicker> _tickers = [];
    private ulong _nextToken = 1; // 0 is the wake fd
    private int _wakePending;

    private EventLoop(int index)
    {
        _epfd = Check(SocketNative.EpollCreate(), "epoll_create1");
        _wakeFd = Check(SocketNative.EventFd(), "eventfd");
        Check(SocketNative.EpollAdd(_epfd, _wakeFd, SocketNative.EPOLLIN, 0), "epoll_ctl");
        _thread = new Thread(Run) { IsBackground = true, Name = $"proxy loop {index}" };
        _thread.Start();
    }

    /// <summary>The process's loops, started on first use.</summary>
    public static IReadOnlyList<EventLoop> Group => s_group.Value;

    /// <summary>A copy buffer for handlers on this loop; its content is meaningless between calls.</summary>
    public byte[] Scratch { get; } = GC.AllocateUninitializedArray<byte>(ScratchSize, pinned: true);

    public bool IsCurrent => Thread.CurrentThread == _thread;

    /// <summary>Registers <paramref name="fd"/> (loop thread only); returns the token, or -errno.</summary>
    public long Register(int fd, uint events, IEventHandler handler, int tag)
    {
        ulong token = _nextToken++;
        int r = SocketNative.EpollAdd(_epfd, fd, events, token);
        if (r < 0)
        {
            return r;
        }

        _handlers[token] = (handler, tag);
        return (long)token;
    }

    /// <summary>
    /// Forgets a registration (loop thread only). With <paramref name="fd"/> ≥ 0 it is also removed from epoll; a
    /// caller about to close the fd passes -1, as closing removes it.
    /// </summary>
    public void Unregister(long token, int fd)
    {
        if (token > 0 && _handlers.Remove((ulong)token) && fd >= 0)
        {
            _ = SocketNative.EpollDelete(_epfd, fd);
        }
    }

    public void AddTicker(ILoopTicker ticker) => _tickers.Add(ticker);

    public void RemoveTicker(ILoopTicker ticker) => _tickers.Remove(ticker);

    /// <summary>Runs <paramref name="action"/> on the loop thread soon (any thread).</summary>
    public void Post(Action action)
    {
        _posted.Enqueue(action);
        if (Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            SocketNative.EventFdSignal(_wakeFd);
        }
    }

    /// <summary>Runs <paramref name="action"/> on the loop thread and completes when it has.</summary>
    public Task InvokeAsync(Action action)
    {
        if (IsCurrent)
        {
            action();
            return Task.CompletedTask;
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            try
            {
                action();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task;
    }

    private static int Check(int r, string call) =>
        r >= 0 ? r : throw new System.Net.Sockets.SocketException(-r, $"{call} failed");

    private void Run()
    {
        var events = (epoll_event*)NativeMemory.Alloc(MaxEvents, (nuint)sizeof(epoll_event));
        bool ticking = false;
        while (true)
        {
            int n = SocketNative.EpollWait(_epfd, events, MaxEvents, ticking ? TickIntervalMs : -1);
            for (int i = 0; i < n; i++)
            {
                ulong token = events[i].data.u64;
                if (token == 0)
                {
                    Volatile.Write(ref _wakePending, 0);
                    SocketNative.EventFdDrain(_wakeFd);
                    continue;
                }

                if (_handlers.TryGetValue(token, out (IEventHandler Handler, int Tag) h))
                {
                    try
                    {
                        h.Handler.OnEvents(unchecked((uint)events[i].events), h.Tag);
                    }
#pragma warning disable CA1031 // see Report
                    catch (Exception e)
#pragma warning restore CA1031
                    {
                        Report(e);
                    }
                }
            }

            while (_posted.TryDequeue(out Action? action))
            {
                try
                {
                    action();
                }
#pragma warning disable CA1031 // see Report
                catch (Exception e)
#pragma warning restore CA1031
                {
                    Report(e);
                }
            }

            ticking = false;
            if (_tickers.Count > 0)
            {
                long now = Environment.TickCount64;
                for (int i = _tickers.Count - 1; i >= 0; i--)
                {
                    ticking |= _tickers[i].Tick(now);
                }
            }
        }
    }

    /// <summary>
    /// A handler that throws has a bug; the loop goes on serving every other connection on it rather than taking the
    /// process down, and says so on stderr (the journal, under systemd).
    /// </summary>
    private static void Report(Exception e) => Console.Error.WriteLine($"portpublisher: proxy event loop handler failed: {e}");
}
