using System.Text;
using PortPublisher.Core.Api;
using PortPublisher.Core.Publications;

namespace PortPublisher.Cli;

/// <summary>
/// The <c>ls</c> table. CARRIER is <c>nat</c> or <c>proxy</c> when every binding has that carrier, <c>mixed</c> when
/// both carry some (an address-less spec to an IPv4-only target: NAT for 0.0.0.0, the proxy for [::]), <c>-</c> when
/// there are no bindings. PORTS is written as <c>docker ps</c> writes it (<c>0.0.0.0:8080-&gt;80/tcp</c>).
/// </summary>
public static class PublicationTable
{
    private static readonly string[] s_header = ["NAME", "NETNS", "CARRIER", "PORTS"];

    public static string Format(IReadOnlyList<PublicationDto> publications)
    {
        ArgumentNullException.ThrowIfNull(publications);
        var rows = new List<string[]> { s_header };
        rows.AddRange(publications.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => new[]
        {
            p.Name,
            p.Netns,
            CarrierOf(p),
            Ports(p),
        }));
        int[] widths = [.. Enumerable.Range(0, s_header.Length - 1).Select(i => rows.Max(r => r[i].Length))];
        var sb = new StringBuilder();
        foreach (string[] r in rows)
        {
            var line = new StringBuilder();
            for (int i = 0; i < widths.Length; i++)
            {
                line.Append(r[i].PadRight(widths[i] + 3));
            }

            sb.Append(line.Append(r[^1]).ToString().TrimEnd()).Append('\n');
        }

        return sb.ToString();
    }

    /// <summary>The PORTS column, as <c>docker ps</c> writes it (also <c>sandbox ls</c>'s).</summary>
    public static string Ports(PublicationDto publication)
    {
        ArgumentNullException.ThrowIfNull(publication);
        return string.Join(", ", publication.Bindings.Select(b => $"{(b.HostIp.Contains(':', StringComparison.Ordinal) ? $"[{b.HostIp}]" : b.HostIp)}:{b.HostPort}->{b.ContainerPort}/{b.Protocol}"));
    }

    /// <summary>The publication's carrier in one word.</summary>
    public static string CarrierOf(PublicationDto publication)
    {
        ArgumentNullException.ThrowIfNull(publication);
        Carrier?[] carriers = [.. publication.Bindings.Select(b => b.Carrier).Distinct()];
        return carriers switch
        {
            [] => "-",
            [Carrier.Nat] => "nat",
            [Carrier.Proxy] => "proxy",
            [null] => "-", // a service too old to say
            _ => "mixed",
        };
    }
}
