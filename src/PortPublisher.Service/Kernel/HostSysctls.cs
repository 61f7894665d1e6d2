using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using PortPublisher.Service.Logging;
using PortPublisher.Service.Publications;

namespace PortPublisher.Service.Kernel;

/// <summary><see cref="IHostSysctls"/> under /proc/sys of the service's namespace. Failures are logged, not thrown.</summary>
internal sealed class HostSysctls(ILogger<HostSysctls> logger) : IHostSysctls
{
    private ImmutableHashSet<string> _localnetInterfaces = [];

    public void EnsureFor(Target target)
    {
        Write("net/ipv4/ip_forward", "1");
        if (target.V6 is not null)
        {
            Write("net/ipv6/conf/all/forwarding", "1");
        }

        if (target.V4Interface is not null)
        {
            // DNAT of 127.0.0.1-bound ports: the kernel drops 127/8 packets routed off lo unless this is set;
            // the loopback guard in our tables keeps outside packets to 127/8 out.
            Write($"net/ipv4/conf/{target.V4Interface}/route_localnet", "1");
            ImmutableInterlocked.Update(ref _localnetInterfaces, (set, name) => set.Add(name), target.V4Interface);
        }
    }

    public IReadOnlyDictionary<string, string> Read()
    {
        var values = new Dictionary<string, string>
        {
            ["net.ipv4.ip_forward"] = ReadOne("net/ipv4/ip_forward"),
            ["net.ipv6.conf.all.forwarding"] = ReadOne("net/ipv6/conf/all/forwarding"),
            ["net.ipv4.conf.all.route_localnet"] = ReadOne("net/ipv4/conf/all/route_localnet"),
            ["net.ipv4.ip_local_port_range"] = ReadOne("net/ipv4/ip_local_port_range").Replace('\t', ' '),
        };
        foreach (string iface in _localnetInterfaces)
        {
            values[$"net.ipv4.conf.{iface}.route_localnet"] = ReadOne($"net/ipv4/conf/{iface}/route_localnet");
        }

        return values;
    }

    private static string ReadOne(string key)
    {
        try
        {
            return File.ReadAllText($"/proc/sys/{key}").Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "unreadable";
        }
    }

    private void Write(string key, string value)
    {
        string path = $"/proc/sys/{key}";
        try
        {
            if (File.ReadAllText(path).Trim() != value)
            {
                File.WriteAllText(path, value);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ServiceLog.SysctlFailed(logger, key.Replace('/', '.'), e.Message);
        }
    }
}
