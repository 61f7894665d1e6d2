namespace PortPublisher.Proxy.Internal;

/// <summary>Receives the epoll events of the fds it registered with an <see cref="EventLoop"/>; called on the loop's thread only.</summary>
internal interface IEventHandler
{
    /// <summary><paramref name="tag"/> is the value given at registration (which of the handler's fds it is).</summary>
    void OnEvents(uint events, int tag);
}
