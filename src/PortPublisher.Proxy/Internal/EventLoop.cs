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
/// <remarks>
/// The wake-up protocol, whose ordering issue 9 got wrong (see <see cref="TakeWakeUp"/> for every interleaving):
/// (P1) Post enqueues; (P2) it sets _wakePending to 1 with a full fence; (P3) only if it was 0, it writes the eventfd.
/// On the loop, after a pass whose events included the eventfd: (L1) drain the eventfd; (L2) set _wakePending to 0
/// with a full fence; (L3) run the queue. _wakePending saves the write(2) of every Post but the first per pass.
/// </remarks>
internal sealed unsafe class EventLoop : IDisposable
{
    /// <summary>Bytes of the per-loop buffer a copy passes through on its way from one socket to the other.</summary>
    public const int ScratchSize = 64 * 1024;

    private const int MaxEvents = 256;
    private const int TickIntervalMs = 50;
    private static readonly Lazy<EventLoop[]> s_group = new(() =>
        [.. Enumerable.Range(0, Math.Clamp(Environment.ProcessorCount, 1, 64)).Select(i => new EventLoop($"proxy loop {i}"))]);

    private readonly int _epfd;
    private readonly int _wakeFd;
    private readonly Thread _thread;
    private readonly ConcurrentQueue<Action> _posted = new();
    private readonly Dictionary<ulong, (IEventHandler Handler, int Tag)> _handlers = [];
    // Only tickers with a deadline pending: a loop with 10,000 idle listeners must not visit them all on every pass.
    private readonly List<ILoopTicker> _tickers = [];
    private readonly HashSet<ILoopTicker> _armed = [];
    private DatagramBatch? _datagrams;
    private ulong _nextToken = 1; // 0 is the wake fd
    private int _wakePending;
    private int _tcpConnections;
    private long _passStartedAt; // Environment.TickCount64 when the running pass began; 0 while in epoll_wait
    private int _disposed;
    private volatile bool _exit;

    /// <summary>A loop of its own; the process's shared loops are <see cref="Group"/> (tests make private ones).</summary>
    internal EventLoop(string name)
    {
        Name = name;
        _epfd = Check(SocketNative.EpollCreate(), "epoll_create1");
        _wakeFd = Check(SocketNative.EventFd(), "eventfd");
        Check(SocketNative.EpollAdd(_epfd, _wakeFd, SocketNative.EPOLLIN, 0), "epoll_ctl");
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>The process's loops, started on first use.</summary>
    public static IReadOnlyList<EventLoop> Group => s_group.Value;

    /// <summary>The loop thread's name, which logs use to say which loop it was.</summary>
    public string Name { get; }

    /// <summary>A copy buffer for handlers on this loop; its content is meaningless between calls.</summary>
    public byte[] Scratch { get; } = GC.AllocateUninitializedArray<byte>(ScratchSize, pinned: true);

    public bool IsCurrent => Thread.CurrentThread == _thread;

    /// <summary>How long one pass may run before other threads stop handing this loop work (<see cref="IsResponsive"/>); tests set it.</summary>
    internal long StuckAfterMs { get; init; } = 1000;

    /// <summary>
    /// TCP connections living on this loop, over every binding (any thread reads it; it may lag by a connection or two).
    /// Acceptors read it to hand a connection to a less busy loop (see <see cref="Tcp.TcpAcceptor"/>).
    /// </summary>
    public int TcpConnections => Volatile.Read(ref _tcpConnections);

    /// <summary>A TCP connection was given to this loop (any thread: it is counted before it arrives).</summary>
    public void TcpConnectionAdded() => Interlocked.Increment(ref _tcpConnections);

    /// <summary>A TCP connection of this loop ended, or one handed to it was dropped.</summary>
    public void TcpConnectionRemoved() => Interlocked.Decrement(ref _tcpConnections);

    /// <summary>
    /// False while one pass has run for <see cref="StuckAfterMs"/> or more (a handler stuck, or the thread starved):
    /// nothing is handed to such a loop, which could not serve it. Any thread; <paramref name="nowMs"/> is
    /// Environment.TickCount64.
    /// </summary>
    public bool IsResponsive(long nowMs)
    {
        // Without the bit that marks a pass as begun: with it, a start read in the same tick of a clock that moves in
        // even steps would lie 1 ms in the future, and a loop stuck 0 ms would look responsive for one tick.
        long since = Volatile.Read(ref _passStartedAt);
        return since == 0 || nowMs - (since & ~1L) < StuckAfterMs;
    }

    /// <summary>The UDP relay's recvmmsg/sendmmsg slots (loop thread only), made when the first UDP binding needs them.</summary>
    public DatagramBatch Datagrams => _datagrams ??= new DatagramBatch();

    /// <summary>
    /// Test hook: runs on the loop thread between the two steps of taking a wake-up (draining the eventfd and clearing
    /// _wakePending), so a test can Post exactly in the window issue 9's lost wake-up needed, not by chance.
    /// </summary>
    internal Action? WakeWindowHook { get; set; }

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

    /// <summary>
    /// Has <paramref name="ticker"/> ticked after every pass until its <see cref="ILoopTicker.Tick"/> says no deadline
    /// remains (loop thread only). Called whenever it takes a deadline; arming an armed ticker does nothing.
    /// </summary>
    public void Arm(ILoopTicker ticker)
    {
        if (_armed.Add(ticker))
        {
            _tickers.Add(ticker);
        }
    }

    /// <summary>Stops ticking <paramref name="ticker"/> (loop thread only).</summary>
    public void Disarm(ILoopTicker ticker)
    {
        if (_armed.Remove(ticker))
        {
            _ = _tickers.Remove(ticker);
        }
    }

    /// <summary>Tickers with a deadline pending (tests).</summary>
    internal int ArmedTickers => _tickers.Count;

    /// <summary>Runs <paramref name="action"/> on the loop thread soon (any thread).</summary>
    public void Post(Action action)
    {
        _posted.Enqueue(action); // P1
        if (Interlocked.Exchange(ref _wakePending, 1) == 0) // P2: a full fence, so P1 is visible before the flag is
        {
            SocketNative.EventFdSignal(_wakeFd); // P3
        }
    }

    /// <summary>
    /// Runs <paramref name="action"/> on the loop thread and completes when it has. A caller that gives up through
    /// <paramref name="cancellationToken"/> gets a canceled task at once: an action the loop had not started is then
    /// never run; one already running finishes on the loop (nothing can interrupt a handler) unobserved.
    /// </summary>
    public Task InvokeAsync(Action action, CancellationToken cancellationToken = default)
    {
        if (IsCurrent)
        {
            action();
            return Task.CompletedTask;
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled(cancellationToken);
        }

        var invocation = new LoopInvocation(action, cancellationToken);
        Post(invocation.Run);
        return invocation.Task;
    }

    /// <summary>
    /// Ends the thread and closes the loop's fds. Only loops made for tests are disposed (the group lives as long as
    /// the process), after their last Post: a Post after this would write to a closed fd number.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _exit = true;

        // Straight to the eventfd, not through _wakePending: the loop must hear this even if that flag is wedged.
        SocketNative.EventFdSignal(_wakeFd);
    }

    private static int Check(int r, string call) =>
        r >= 0 ? r : throw new System.Net.Sockets.SocketException(-r, $"{call} failed");

    private void Run()
    {
        var events = (epoll_event*)NativeMemory.Alloc(MaxEvents, (nuint)sizeof(epoll_event));
        bool ticking = false;
        try
        {
            while (!_exit)
            {
                Volatile.Write(ref _passStartedAt, 0);
                int n = SocketNative.EpollWait(_epfd, events, MaxEvents, ticking ? TickIntervalMs : -1);
                Volatile.Write(ref _passStartedAt, Environment.TickCount64 | 1); // never 0, which means "waiting"
                bool woken = false;
                for (int i = 0; i < n; i++)
                {
                    ulong token = events[i].data.u64;
                    if (token == 0)
                    {
                        woken = true;
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

                // UDP replies the handlers queued leave now, in one sendmmsg per listener; before the posted actions,
                // one of which may be a stop that lets the listener's fd be closed once it has run.
                if (_datagrams is { HasReplies: true } datagrams)
                {
                    datagrams.Flush();
                }

                if (woken)
                {
                    TakeWakeUp();
                }

                RunPosted();
                if (_tickers.Count > 0)
                {
                    long now = Environment.TickCount64;
                    for (int i = _tickers.Count - 1; i >= 0; i--)
                    {
                        // A tick may arm other tickers (appended, ticked next pass) or disarm itself; re-check the index.
                        if (i < _tickers.Count && _tickers[i] is { } t && !t.Tick(now) && _armed.Remove(t))
                        {
                            _ = _tickers.Remove(t);
                        }
                    }
                }

                // Whatever is still armed, including what a tick armed, has a deadline: wake for it.
                ticking = _tickers.Count > 0;
            }
        }
        finally
        {
            NativeMemory.Free(events);
            _datagrams?.Dispose();
            SocketNative.Close(_wakeFd);
            SocketNative.Close(_epfd);
        }
    }

    /// <summary>
    /// L1 and L2 of the wake-up protocol (see the type's remarks); <see cref="RunPosted"/> (L3) follows. Why in this
    /// order, by where a concurrent Post's P2 falls:
    /// (a) P2 before L2. Then P1 came before L3, which therefore runs the action. A signal (P3) that L1 drained can
    ///     only be from such a Post, so draining it loses nothing; a P3 that lands after L1 leaves one spurious
    ///     wake-up (a drain and an empty queue next pass), which costs a pass and nothing else.
    /// (b) P2 after L2. It reads the 0 that L2 wrote (or a 1 written after L2 by another Post of case (b), which
    ///     signals itself), so its P3 follows and lands after L1: nothing drains it before the next epoll_wait,
    ///     which returns at once. Whether or not L3 already sees the action, it runs.
    /// So _wakePending is 1 only while a signal is in the eventfd or about to be written. The old order (L2, then L1)
    /// broke (b): a Post whose P2 and P3 fell between L2 and L1 had its signal drained while its 1 stayed, and every
    /// later Post skipped its signal; the loop slept in epoll_wait with work queued (issue 9).
    /// L2 is Interlocked.Exchange, not Volatile.Write: a release write may become visible only after L3's loads
    /// (store→load reordering, which x86's store buffer does too), so L3 could find the queue empty while a P2 still
    /// reads the old 1, and neither side would act. A full fence on both sides (P2 is one too) rules that out.
    /// The eventfd is non-blocking (<see cref="SocketNative.EventFd"/>): after a spurious wake-up, or with the count
    /// already drained, the read says EAGAIN instead of blocking the loop.
    /// </summary>
    private void TakeWakeUp()
    {
        SocketNative.EventFdDrain(_wakeFd); // L1
        WakeWindowHook?.Invoke();
        _ = Interlocked.Exchange(ref _wakePending, 0); // L2
    }

    private void RunPosted()
    {
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
    }

    /// <summary>
    /// A handler that throws has a bug; the loop goes on serving every other connection on it rather than taking the
    /// process down, and says so on stderr (the journal, under systemd).
    /// </summary>
    private static void Report(Exception e) => Console.Error.WriteLine($"portpublisher: proxy event loop handler failed: {e}");
}
