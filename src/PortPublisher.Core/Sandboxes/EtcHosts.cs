using System.Text;

namespace PortPublisher.Core.Sandboxes;

/// <summary>
/// A sandbox's /etc/hosts, byte for byte as Docker 28 writes a container's (libnetwork <c>etchosts.Build</c> and
/// <c>Sandbox.updateHostsFile</c>): the default records (without the IPv6 ones when the sandbox's lo has no IPv6,
/// <c>BuildNoIPv6</c>), then each <c>--add-host</c>, then the sandbox's own address with its hostname, followed by
/// the short name when the hostname is a FQDN. Fields are separated by one tab. Since v28 (netip) the two IPv6
/// prefixes print as <c>fe00::</c> and <c>ff00::</c>, no longer <c>fe00::0</c>.
/// </summary>
public static class EtcHosts
{
    public const string DefaultIPv4 = "127.0.0.1\tlocalhost\n";

    public const string DefaultIPv6 =
        "::1\tlocalhost ip6-localhost ip6-loopback\n" +
        "fe00::\tip6-localnet\n" +
        "ff00::\tip6-mcastprefix\n" +
        "ff02::1\tip6-allnodes\n" +
        "ff02::2\tip6-allrouters\n";

    public static string Build(bool ipv6, IEnumerable<ExtraHost> extra, string? ownIp, string hostname)
    {
        ArgumentNullException.ThrowIfNull(extra);
        ArgumentNullException.ThrowIfNull(hostname);
        var sb = new StringBuilder(DefaultIPv4);
        if (ipv6)
        {
            sb.Append(DefaultIPv6);
        }

        foreach (ExtraHost e in extra)
        {
            sb.Append(e.Ip).Append('\t').Append(e.Host).Append('\n');
        }

        if (ownIp is not null)
        {
            string names = hostname;
            int dot = hostname.IndexOf('.', StringComparison.Ordinal);
            if (dot >= 0)
            {
                names += " " + hostname[..dot];
            }

            sb.Append(ownIp).Append('\t').Append(names).Append('\n');
        }

        return sb.ToString();
    }
}
