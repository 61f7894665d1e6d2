using System.Collections.Concurrent;
using System.Net.Sockets;
using PortPublisher.Netlink;

namespace PortPublisher.Proxy;

/// <summary>
/// Creates sockets inside a target network namespace on one dedicated thread that entered it once (setns is
/// per-thread, and a socket keeps the namespace it was created in, so connect/send/receive can then run anywhere).
/// This reaches namespaces with no route from the host, including one whose only interface is lo.
/// </summary>
public sealed class NamespaceSocketFactory : ISocketFactory, IDisposable
{
    private readonly BlockingCollection<Request> _requests = new();
    private readonly Thread _thread;

    public NamespaceSocketFactory(NetworkNamespace ns)
    {
        ArgumentNullException.ThrowIfNull(ns);
        Namespace = ns;
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _thread = new Thread(() => Serve(entered)) { IsBackground = true, Name = $"netns-sockets {ns.Path}" };
        _thread.Start();
        entered.Task.GetAwaiter().GetResult();
    }

    public NetworkNamespace Namespace { get; }

    public Socket Create(AddressFamily family, SocketType type, ProtocolType protocol)
    {
        var request = new Request(family, type, protocol);
        try
        {
            _requests.Add(request);
        }
        catch (InvalidOperationException)
        {
            throw new ObjectDisposedException(nameof(NamespaceSocketFactory));
        }

        return request.Result.Task.GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        _requests.CompleteAdding();
        _thread.Join();
        _requests.Dispose();
    }

    private void Serve(TaskCompletionSource entered)
    {
        try
        {
            Namespace.Enter();
            entered.SetResult();
        }
        catch (Exception e)
        {
            entered.SetException(e);
            return;
        }

        foreach (Request r in _requests.GetConsumingEnumerable())
        {
            try
            {
                r.Result.SetResult(new Socket(r.Family, r.Type, r.Protocol));
            }
            catch (Exception e)
            {
                r.Result.SetException(e);
            }
        }
    }

    private sealed record Request(AddressFamily Family, SocketType Type, ProtocolType Protocol)
    {
        public TaskCompletionSource<Socket> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
