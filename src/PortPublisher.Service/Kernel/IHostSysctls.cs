using PortPublisher.Service.Publications;

namespace PortPublisher.Service.Kernel;

/// <summary>The host's sysctls that NAT to a target needs.</summary>
internal interface IHostSysctls
{
    /// <summary>Forwarding for the target's families, and route_localnet on the link that reaches it (127.0.0.1 bindings).</summary>
    void EnsureFor(Target target);

    /// <summary>The values <c>status</c> shows.</summary>
    IReadOnlyDictionary<string, string> Read();
}
