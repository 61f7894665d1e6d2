using System.Net;
using PortPublisher.Service.Publications;

namespace PortPublisher.Service.Kernel;

/// <summary>The host's sysctls that NAT to a target needs.</summary>
internal interface IHostSysctls
{
    /// <summary>Forwarding for the target's families (global switches, left on, as Docker leaves them).</summary>
    void EnsureFor(Target target);

    /// <summary>
    /// route_localnet on exactly the links that reach <paramref name="targets"/> (the targets of NAT'ed 127.0.0.0/8
    /// bindings), set where needed and reset to 0 where the service set it and nothing needs it any more. Links are
    /// looked up anew each time, so a re-created veth gets it back.
    /// </summary>
    void SyncLocalnet(IReadOnlyCollection<IPAddress> targets);

    /// <summary>Resets every route_localnet the service set (at stop: the loopback guard cannot be kept after it).</summary>
    void ReleaseLocalnet();

    /// <summary>The values <c>status</c> shows.</summary>
    IReadOnlyDictionary<string, string> Read();
}
