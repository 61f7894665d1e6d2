using System.Net;
using PortPublisher.Netlink.Route;

namespace PortPublisher.Cni.Direct;

/// <summary>
/// The host sysctls NAT needs, under /proc/sys of the plugin's own namespace (the runtime's host namespace):
/// forwarding (turned on, never off, as the service and Docker leave it) and route_localnet per link.
/// </summary>
internal static class HostSysctls
{
    private const string Root = "/proc/sys/net";

    public static void EnableForwarding(bool v4, bool v6)
    {
        if (v4)
        {
            Write("ipv4/ip_forward", "1");
        }

        if (v6)
        {
            Write("ipv6/conf/all/forwarding", "1");
        }
    }

    /// <summary>The host link that routes to <paramref name="target"/>, or null.</summary>
    public static string? LinkTo(IPAddress target)
    {
        using var routes = new RouteNetlink();
        return routes.GetRoute(target) is { IsLocal: false, OutputInterface: string link } ? link : null;
    }

    public static string? ReadLocalnet(string link) => Read($"ipv4/conf/{link}/route_localnet");

    public static void SetLocalnet(string link, bool on) => Write($"ipv4/conf/{link}/route_localnet", on ? "1" : "0");

    private static string? Read(string key)
    {
        try
        {
            return File.ReadAllText(Path.Combine(Root, key)).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <exception cref="IOException">The sysctl is missing (a link that went) or not writable.</exception>
    private static void Write(string key, string value) => File.WriteAllText(Path.Combine(Root, key), value);
}
