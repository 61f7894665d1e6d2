using System.Net.Sockets;

namespace PortPublisher.Proxy.Tests;

/// <summary>A namespace thread that does not answer: every socket asked for waits until the test hands one over.</summary>
internal sealed class StallingSocketFactory : ISocketFactory
{
    private readonly TaskCompletionSource<Socket> _socket = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when a socket is first asked for.</summary>
    public TaskCompletionSource Asked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ValueTask<Socket> CreateAsync(AddressFamily family, SocketType type, ProtocolType protocol)
    {
        Asked.TrySetResult();
        return new ValueTask<Socket>(_socket.Task);
    }

    public ValueTask<int> CreateTcpAsync(AddressFamily family) => throw new NotSupportedException("UDP only");

    /// <summary>Answers the waiting request, late.</summary>
    public void Answer(Socket socket) => _socket.SetResult(socket);
}
