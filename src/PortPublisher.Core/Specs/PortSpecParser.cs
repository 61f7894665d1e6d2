namespace PortPublisher.Core.Specs;

/// <summary>
/// Docker 28.2's <c>-p</c> grammar: the CLI's <c>convertToStandardNotation</c> in front of go-connections
/// v0.5.0 <c>nat.ParsePortSpec</c>. Accepts exactly what Docker accepts, with the same mappings, and
/// rejects exactly what it rejects, with its error text (see docker-semantics.md §1).
/// </summary>
public static class PortSpecParser
{
    /// <summary>
    /// Parses every value in order and stops at the first error, as <c>nat.ParsePortSpecs</c> does.
    /// Mappings keep flag order; duplicates are kept.
    /// </summary>
    public static IReadOnlyList<PortMapping> ParseAll(IEnumerable<string> specs)
    {
        ArgumentNullException.ThrowIfNull(specs);
        var result = new List<PortMapping>();
        foreach (string spec in specs)
        {
            result.AddRange(Parse(spec));
        }

        return result;
    }

    /// <summary>Parses one <c>-p</c> value, short or long (<c>published=8080,target=80</c>) syntax.</summary>
    /// <exception cref="PortSpecException">Docker rejects the value; the message is Docker's.</exception>
    public static IReadOnlyList<PortMapping> Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return ParseStandard(spec, ToStandardNotation(spec));
    }

    /// <summary>
    /// The CLI's <c>convertToStandardNotation</c>: a value containing <c>=</c> is long syntax and becomes
    /// <c>&lt;published&gt;:&lt;target&gt;/&lt;protocol&gt;</c>; unknown keys are accepted and ignored.
    /// </summary>
    public static string ToStandardNotation(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!spec.Contains('=', StringComparison.Ordinal))
        {
            return spec;
        }

        string published = string.Empty, target = string.Empty, protocol = "tcp";
        foreach (string item in spec.Split(','))
        {
            int eq = item.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new PortSpecException(spec, $"invalid publish opts format (should be name=value but got '{item}')");
            }

            string value = item[(eq + 1)..];
            switch (item[..eq])
            {
                case "published": published = value; break;
                case "target": target = value; break;
                case "protocol": protocol = value; break;
            }
        }

        return $"{published}:{target}/{protocol}";
    }

    private static List<PortMapping> ParseStandard(string spec, string raw)
    {
        (string ip, string hostPart, string containerPart) = SplitParts(raw);
        (string proto, string containerPort) = SplitProtoPort(containerPart);

        if (ip.Length > 0 && ip[0] == '[')
        {
            string? error = GoNet.SplitBracketedHost(ip + ":", out string inner);
            if (error is not null)
            {
                throw new PortSpecException(spec, $"invalid IP address {ip}: {error}");
            }

            ip = inner;
        }

        if (ip.Length > 0 && !GoNet.TryParseIP(ip, out _))
        {
            throw new PortSpecException(spec, $"invalid IP address: {ip}");
        }

        if (containerPort.Length == 0)
        {
            throw new PortSpecException(spec, $"no port specified: {raw}<empty>");
        }

        if (!TryParseRange(containerPort, out PortRange container))
        {
            throw new PortSpecException(spec, $"invalid containerPort: {containerPort}");
        }

        PortRange host = default;
        if (hostPart.Length > 0 && !TryParseRange(hostPart, out host))
        {
            throw new PortSpecException(spec, $"invalid hostPort: {hostPart}");
        }

        // A host range longer or shorter than the container range is allowed only for a single container
        // port: the host range is then the pool the daemon allocates from.
        if (hostPart.Length > 0 && container.End - container.Start != host.End - host.Start && !container.IsSingle)
        {
            throw new PortSpecException(spec, $"invalid ranges specified for container and host Ports: {containerPort} and {hostPart}");
        }

        if (!ProtocolNames.TryParse(proto, out Protocol protocol))
        {
            throw new PortSpecException(spec, $"invalid proto: {proto}");
        }

        var mappings = new List<PortMapping>(container.Count);
        for (int i = 0; i < container.Count; i++)
        {
            PortRange? hostPort = null;
            if (hostPart.Length > 0)
            {
                hostPort = container.IsSingle && !host.IsSingle
                    ? host
                    : PortRange.Of((ushort)(host.Start + i));
            }

            mappings.Add(new PortMapping((ushort)(container.Start + i), protocol, ip, hostPort));
        }

        return mappings;
    }

    /// <summary>n parts: 1 = container, 2 = host:container, 3 = ip:host:container, more = ip is all but the last two.</summary>
    private static (string Ip, string Host, string Container) SplitParts(string raw)
    {
        string[] parts = raw.Split(':');
        int n = parts.Length;
        return n switch
        {
            1 => (string.Empty, string.Empty, parts[0]),
            2 => (string.Empty, parts[0], parts[1]),
            3 => (parts[0], parts[1], parts[2]),
            _ => (string.Join(':', parts, 0, n - 2), parts[n - 2], parts[n - 1]),
        };
    }

    /// <summary>nat.SplitProtoPort: text after a second '/' is ignored and an empty protocol means tcp.</summary>
    private static (string Proto, string Port) SplitProtoPort(string raw)
    {
        string[] parts = raw.Split('/');
        if (raw.Length == 0 || parts[0].Length == 0)
        {
            return (string.Empty, string.Empty);
        }

        if (parts.Length == 1)
        {
            return ("tcp", raw);
        }

        return parts[1].Length == 0 ? ("tcp", parts[0]) : (parts[1], parts[0]);
    }

    /// <summary>nat.ParsePortRange: only the first two '-' separated pieces count (<c>80-90-100</c> is 80-90).</summary>
    internal static bool TryParseRange(string s, out PortRange range)
    {
        range = default;
        if (s.Length == 0)
        {
            return false;
        }

        if (!s.Contains('-', StringComparison.Ordinal))
        {
            if (!GoNet.TryParseUInt16(s, out ushort port))
            {
                return false;
            }

            range = PortRange.Of(port);
            return true;
        }

        string[] parts = s.Split('-');
        if (!GoNet.TryParseUInt16(parts[0], out ushort start) || !GoNet.TryParseUInt16(parts[1], out ushort end) || end < start)
        {
            return false;
        }

        range = new PortRange(start, end);
        return true;
    }
}
