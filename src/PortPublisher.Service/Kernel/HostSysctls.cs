using System.Collections.Immutable;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Route;
using PortPublisher.Service.Logging;
using PortPublisher.Service.Options;
using PortPublisher.Service.Publications;

namespace PortPublisher.Service.Kernel;

/// <summary>
/// <see cref="IHostSysctls"/> under /proc/sys of the service's namespace. Failures are logged, not thrown. The links
/// whose route_localnet the service turned on are kept in STATE_DIR/route_localnet, so that after a crash the next
/// start still knows which ones to turn off and never resets one that someone else had set.
/// </summary>
internal sealed class HostSysctls(IOptions<PortPublisherOptions> options, ILogger<HostSysctls> logger) : IHostSysctls, IDisposable
{
    private readonly string _marker = Path.Combine(options.Value.StateDir, "route_localnet");
    private ImmutableHashSet<string>? _ours;
    private RouteNetlink? _routes;

    public void EnsureFor(Target target)
    {
        Write("net/ipv4/ip_forward", "1");
        if (target.V6 is not null)
        {
            Write("net/ipv6/conf/all/forwarding", "1");
        }
    }

    public void SyncLocalnet(IReadOnlyCollection<IPAddress> targets)
    {
        ImmutableHashSet<string> ours = Ours();
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (IPAddress target in targets)
        {
            if (Route(target) is string link)
            {
                wanted.Add(link);
            }
        }

        // Set already: by us (kept in the marker) or by someone else (then never ours to reset).
        List<string> toSet = [.. wanted.Where(link => ReadOne($"net/ipv4/conf/{link}/route_localnet") != "1")];
        ImmutableHashSet<string> next = ours;
        if (toSet.Count > 0)
        {
            // The marker first: a setting the service cannot remember having made, it could never reset after a
            // crash, and a flush would then open the host's loopback for good. No marker, no setting.
            if (!Save(ours.Union(toSet)))
            {
                ServiceLog.SysctlFailed(logger, "route_localnet", $"not set on {string.Join(", ", toSet)}: {_marker} cannot be written, so it could not be reset after a crash; NAT'ed 127.0.0.0/8 bindings through those links do not work until it can");
                toSet.Clear();
            }
        }

        foreach (string link in toSet)
        {
            if (Write($"net/ipv4/conf/{link}/route_localnet", "1"))
            {
                next = next.Add(link);
                ServiceLog.LocalnetChanged(logger, link, "1", "a NAT'ed 127.0.0.0/8 binding reaches its target through it");
            }
        }

        foreach (string link in ours.Except(wanted))
        {
            Reset(link, "no NAT'ed 127.0.0.0/8 binding needs it any more");
            next = next.Remove(link);
        }

        Save(next);
    }

    public void ReleaseLocalnet()
    {
        ImmutableHashSet<string> ours = Ours();
        foreach (string link in ours)
        {
            Reset(link, "the service stopped, and with it the loopback guard's repair");
        }

        Save([]);
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
        foreach (string link in _ours ?? [])
        {
            values[$"net.ipv4.conf.{link}.route_localnet"] = ReadOne($"net/ipv4/conf/{link}/route_localnet");
        }

        return values;
    }

    public void Dispose() => _routes?.Dispose();

    private string? Route(IPAddress target)
    {
        try
        {
            _routes ??= new RouteNetlink();
            RouteLookup? r = _routes.GetRoute(target);
            return r is { IsLocal: false } ? r.OutputInterface : null;
        }
        catch (Exception e) when (e is NetlinkException or NetlinkProtocolException)
        {
            ServiceLog.SysctlFailed(logger, $"route_localnet (route to {target})", e.Message);
            return null;
        }
    }

    private void Reset(string link, string reason)
    {
        string key = $"net/ipv4/conf/{link}/route_localnet";
        if (!File.Exists($"/proc/sys/{key}"))
        {
            return; // the link is gone, and its setting with it
        }

        if (Write(key, "0"))
        {
            ServiceLog.LocalnetChanged(logger, link, "0", reason);
        }
    }

    private ImmutableHashSet<string> Ours()
    {
        if (_ours is null)
        {
            try
            {
                _ours = [.. File.ReadAllLines(_marker).Where(l => l.Length > 0 && !l.Contains('/') && !l.Contains(".."))];
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                _ours = [];
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                ServiceLog.SysctlFailed(logger, _marker, e.Message);
                _ours = [];
            }
        }

        return _ours;
    }

    /// <summary>Records the set (in memory always, on disk if it can); false when the file could not be written.</summary>
    private bool Save(ImmutableHashSet<string> next)
    {
        ImmutableHashSet<string>? before = _ours;
        _ours = next;
        if (before is not null && before.SetEquals(next))
        {
            return true;
        }

        try
        {
            if (next.IsEmpty)
            {
                File.Delete(_marker);
                return true;
            }

            string tmp = _marker + ".tmp";
            File.WriteAllLines(tmp, next.Order(StringComparer.Ordinal));
            File.Move(tmp, _marker, overwrite: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ServiceLog.SysctlFailed(logger, _marker, e.Message);
            try
            {
                File.Delete(_marker + ".tmp");
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // Nothing more to do: the caller decides what a missing marker means.
            }

            return false;
        }
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

    private bool Write(string key, string value)
    {
        string path = $"/proc/sys/{key}";
        try
        {
            if (File.ReadAllText(path).Trim() != value)
            {
                File.WriteAllText(path, value);
            }

            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ServiceLog.SysctlFailed(logger, key.Replace('/', '.'), e.Message);
            return false;
        }
    }
}
