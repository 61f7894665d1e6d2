using System.Net;

namespace PortPublisher.Proxy;

/// <summary>One running binding: a listener on the host and its relays. Disposing stops it: the listener is closed (the port is free at once) and every connection or flow is closed.</summary>
public abstract class ProxyBinding : IAsyncDisposable
{
    private protected ProxyBinding(EndPoint listen, ProxyTarget target, ProxyBindingOptions options)
    {
        Listen = listen;
        Target = target;
        Options = options;
    }

    public EndPoint Listen { get; }

    public ProxyTarget Target { get; }

    public ProxyBindingOptions Options { get; }

    public ProxyCounters Counters { get; } = new();

    public abstract string Protocol { get; }

    public abstract ValueTask DisposeAsync();
}
