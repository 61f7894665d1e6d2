using System.Net;

namespace PortPublisher.Service.Kernel;

/// <summary>A running proxied binding, as handed out by <see cref="IProxyHost.Start"/>.</summary>
internal interface IProxyLease
{
    EndPoint Listen { get; }
}
