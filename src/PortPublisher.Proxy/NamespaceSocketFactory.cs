using System.Collections.Concurrent;
using System.Net.Sockets;
using PortPublisher.Netlink;
using PortPublisher.Proxy.Internal;

namespace PortPublisher.Proxy;

/// <summary>
/// Creates sockets inside a target network namespace on one dedicated thread that entered it once (setns is
/// per-thread, and a socket keeps the namespace it was created in, so connect/send/receive can then run anywhere).
/// This reaches namespaces with no route from the host, including one whose only interface is lo.
/// Sockets of each kind asked for are kept ready, so a dial takes one from the stock instead of waiting for the
/// namespace thread (that hand-off blocked a pool thread per connection and halved the connection rate). The thread
/// refills when half the stock is gone: with 32 it wakes once per 16 connections (the proxy comparison of
/// bench/README.md gave 0.99× docker-proxy's connection rate with a stock of 8, 1.13× with 32, in separate runs), at the
/// price of up to 32 idle fds per kind and namespace. The thread sleeps on a monitor, which does not spin: a
/// BlockingCollection here spun through sched_yield about 35 times per wake-up. The thread starts with the first
/// request: a publication whose listener only serves the host's own loopback clients (a NAT'ed wildcard) may never
/// dial, and 10,000 of them must not cost 10,000 threads.
/// </summary>
public sealed class NamespaceSocketFactory : ISocketFactory, IDisposable
{
    /// <summary>Ready sockets kept per kind; each holds an fd.</summary>
    public const int StockSize = 32;

    private readonly Queue<Request> _requests = new();
    private readonly ConcurrentDictionary<(AddressFamily, SocketType, ProtocolType), ConcurrentQueue<Socket>> _stock = new();
    private readonly ConcurrentDictionary<AddressFamily, ConcurrentQueue<int>> _tcpStock = new();
    private Thread? _thread;
    private int _refillQueued;
    private bool _disposed;

    public NamespaceSocketFactory(NetworkNamespace ns)
    {
        ArgumentNullException.ThrowIfNull(ns);
        Namespace = ns;
    }

    public NetworkNamespace Namespace { get; }

    /// <summary>Synchronous form, for callers that are not on an I/O thread (tests, setup).</summary>
    public Socket Create(AddressFamily family, SocketType type, ProtocolType protocol) =>
        CreateAsync(family, type, protocol).AsTask().GetAwaiter().GetResult();

    public ValueTask<Socket> CreateAsync(AddressFamily family, SocketType type, ProtocolType protocol)
    {
        ConcurrentQueue<Socket> stock = _stock.GetOrAdd((family, type, protocol), _ => new ConcurrentQueue<Socket>());
        bool got = stock.TryDequeue(out Socket? ready);
        RefillIfLow(stock.Count);
        if (got)
        {
            return ValueTask.FromResult(ready!);
        }

        var request = new Request(family, type, protocol);
        Enqueue(request);
        return new ValueTask<Socket>(request.Socket.Task);
    }

    public ValueTask<int> CreateTcpAsync(AddressFamily family)
    {
        ConcurrentQueue<int> stock = _tcpStock.GetOrAdd(family, _ => new ConcurrentQueue<int>());
        bool got = stock.TryDequeue(out int ready);
        RefillIfLow(stock.Count);
        if (got)
        {
            return ValueTask.FromResult(ready);
        }

        var request = new Request(family, SocketType.Stream, ProtocolType.Tcp) { Raw = true };
        Enqueue(request);
        return new ValueTask<int>(request.Fd.Task);
    }

    public void Dispose()
    {
        lock (_requests)
        {
            _disposed = true;
            Monitor.Pulse(_requests);
        }

        // The thread ends after at most one socket(2); a deadline all the same, so a dispose can never hang its caller.
        Thread? thread;
        lock (_requests)
        {
            thread = _thread;
        }

        _ = thread?.Join(TimeSpan.FromSeconds(5));
        foreach (ConcurrentQueue<Socket> q in _stock.Values)
        {
            while (q.TryDequeue(out Socket? s))
            {
                s.Dispose();
            }
        }

        foreach (ConcurrentQueue<int> q in _tcpStock.Values)
        {
            while (q.TryDequeue(out int fd))
            {
                SocketNative.Close(fd);
            }
        }
    }

    private void RefillIfLow(int count)
    {
        if (count < StockSize / 2 && Interlocked.Exchange(ref _refillQueued, 1) == 0)
        {
            Enqueue(null);
        }
    }

    /// <summary>Queues a request (null: refill the stocks) for the namespace thread.</summary>
    private void Enqueue(Request? r)
    {
        lock (_requests)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _requests.Enqueue(r ?? Request.Refill);
            Monitor.Pulse(_requests);
            if (_thread is null)
            {
                // Nothing waits for the thread to enter the namespace: requests queue behind its setns, and if that
                // fails every request fails with its error. So no caller (the publication writer) waits on it.
                _thread = new Thread(Serve) { IsBackground = true, Name = $"netns-sockets {Namespace.Path}" };
                _thread.Start();
            }
        }
    }

    private void Serve()
    {
        Exception? enterError = null;
        try
        {
            Namespace.Enter();
        }
#pragma warning disable CA1031 // handed to every caller instead
        catch (Exception e)
#pragma warning restore CA1031
        {
            enterError = e;
        }

        while (true)
        {
            Request r;
            lock (_requests)
            {
                while (_requests.Count == 0 && !_disposed)
                {
                    Monitor.Wait(_requests);
                }

                if (_disposed)
                {
                    foreach (Request left in _requests)
                    {
                        left.Cancel();
                    }

                    return;
                }

                r = _requests.Dequeue();
            }

            if (ReferenceEquals(r, Request.Refill))
            {
                Volatile.Write(ref _refillQueued, 0);
                if (enterError is null)
                {
                    Refill();
                }
            }
            else if (enterError is not null)
            {
                // Outside the namespace a socket would dial the wrong network: refuse, and stock nothing.
                r.Fail(enterError);
            }
            else
            {
                r.Serve();
            }
        }
    }

    private void Refill()
    {
        foreach (KeyValuePair<(AddressFamily Family, SocketType Type, ProtocolType Protocol), ConcurrentQueue<Socket>> kv in _stock)
        {
            while (kv.Value.Count < StockSize && !Volatile.Read(ref _disposed))
            {
                try
                {
                    kv.Value.Enqueue(new Socket(kv.Key.Family, kv.Key.Type, kv.Key.Protocol));
                }
                catch (SocketException)
                {
                    break; // out of fds: callers fall back to asking directly and get the error there
                }
            }
        }

        foreach (KeyValuePair<AddressFamily, ConcurrentQueue<int>> kv in _tcpStock)
        {
            while (kv.Value.Count < StockSize && !Volatile.Read(ref _disposed))
            {
                int fd = SocketNative.TcpSocket(kv.Key);
                if (fd < 0)
                {
                    break;
                }

                kv.Value.Enqueue(fd);
            }
        }
    }

    private sealed class Request(AddressFamily family, SocketType type, ProtocolType protocol)
    {
        public static readonly Request Refill = new(default, default, default);

        public bool Raw { get; init; }

        public TaskCompletionSource<Socket> Socket { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<int> Fd { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Serve()
        {
            if (Raw)
            {
                int fd = SocketNative.TcpSocket(family);
                if (fd >= 0)
                {
                    Fd.SetResult(fd);
                }
                else
                {
                    Fd.SetException(new SocketException(-fd));
                }

                return;
            }

            try
            {
                Socket.SetResult(new Socket(family, type, protocol));
            }
            catch (SocketException e)
            {
                Socket.SetException(e);
            }
        }

        public void Fail(Exception e)
        {
            Socket.TrySetException(e);
            Fd.TrySetException(e);
        }

        public void Cancel()
        {
            Socket.TrySetException(new ObjectDisposedException(nameof(NamespaceSocketFactory)));
            Fd.TrySetException(new ObjectDisposedException(nameof(NamespaceSocketFactory)));
        }
    }
}
