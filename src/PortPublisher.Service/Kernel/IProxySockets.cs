namespace PortPublisher.Service.Kernel;

/// <summary>Sockets made inside one target namespace (see <see cref="IProxyHost.OpenSockets"/>).</summary>
internal interface IProxySockets : IDisposable;
