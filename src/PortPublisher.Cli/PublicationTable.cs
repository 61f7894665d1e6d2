using System.Text;
using PortPublisher.Core.Api;

namespace PortPublisher.Cli;

/// <summary>The <c>ls</c> table; PORTS is written as <c>docker ps</c> writes it (<c>0.0.0.0:8080-&gt;80/tcp</c>).</summary>
public static class PublicationTable
{
    private static readonly string[] s_header = ["NAME", "NETNS", "PORTS"];

    public static string Format(IReadOnlyList<PublicationDto> publications)
    {
        ArgumentNullException.ThrowIfNull(publications);
        var rows = new List<string[]> { s_header };
        rows.AddRange(publications.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => new[]
        {
            p.Name,
            p.Netns,
            string.Join(", ", p.Bindings.Select(b => $"{(b.HostIp.Contains(':', StringComparison.Ordinal) ? $"[{b.HostIp}]" : b.HostIp)}:{b.HostPort}->{b.ContainerPort}/{b.Protocol}")),
        }));
        int w0 = rows.Max(r => r[0].Length), w1 = rows.Max(r => r[1].Length);
        var sb = new StringBuilder();
        foreach (string[] r in rows)
        {
            sb.Append(r[0].PadRight(w0 + 3)).Append(r[1].PadRight(w1 + 3)).Append(r[2].TrimEnd()).Append('\n');
        }

        return sb.ToString().Replace(" \n", "\n", StringComparison.Ordinal);
    }
}
