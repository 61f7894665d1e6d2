using PortPublisher.Core.Allocation;
using PortPublisher.Core.Specs;

namespace PortPublisher.Core.DockerPort;

/// <summary>
/// <c>docker port CONTAINER [PRIVATE_PORT[/PROTO]]</c> output, byte for byte as docker CLI 28.2 prints it
/// (cli/command/container/port.go; docker-semantics.md §3.1), or as ≤ 20.10 printed it.
/// </summary>
public static class DockerPortFormatter
{
    /// <summary>Formats what <c>docker port</c> prints for a container whose inspect body has these ports.</summary>
    /// <param name="container">The container argument as typed (it is echoed in errors).</param>
    /// <param name="ports">NetworkSettings.Ports in served order; a null list is an exposed-but-unpublished port.</param>
    /// <param name="port">The PRIVATE_PORT[/PROTO] argument; null or empty lists every binding.</param>
    /// <param name="style">Which CLI generation to imitate.</param>
    public static CommandOutput Format(
        string container,
        IEnumerable<KeyValuePair<string, IReadOnlyList<PortBindingView>?>>? ports,
        string? port,
        DockerPortStyle style = DockerPortStyle.Current)
    {
        ArgumentNullException.ThrowIfNull(container);
        var map = new List<KeyValuePair<string, IReadOnlyList<PortBindingView>?>>(ports ?? []);
        return style == DockerPortStyle.Legacy ? FormatLegacy(container, map, port) : FormatCurrent(container, map, port);
    }

    /// <summary>Docker's NetworkSettings.Ports for a publication: keys in first-binding order, bindings in allocation order.</summary>
    public static IReadOnlyList<KeyValuePair<string, IReadOnlyList<PortBindingView>?>> ToPortMap(IEnumerable<HostBinding> bindings)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        var lists = new Dictionary<string, List<PortBindingView>>();
        var order = new List<string>();
        foreach (HostBinding b in bindings)
        {
            if (!lists.TryGetValue(b.Key, out List<PortBindingView>? list))
            {
                lists[b.Key] = list = [];
                order.Add(b.Key);
            }

            list.Add(new PortBindingView(GoNet.FormatIP(b.HostIp), b.HostPort.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        return [.. order.Select(k => new KeyValuePair<string, IReadOnlyList<PortBindingView>?>(k, lists[k]))];
    }

    private static CommandOutput FormatCurrent(string container, List<KeyValuePair<string, IReadOnlyList<PortBindingView>?>> ports, string? port)
    {
        var lines = new List<string>();
        if (!string.IsNullOrEmpty(port))
        {
            int slash = port.IndexOf('/', StringComparison.Ordinal);
            string number = slash < 0 ? port : port[..slash];
            string proto = slash < 0 ? string.Empty : port[(slash + 1)..];
            if (proto.Length == 0)
            {
                proto = "tcp";
            }

            string? parseError = ParseUintError(number);
            if (parseError is not null)
            {
                return Fail($"Error: invalid port ({number}): {parseError}\n");
            }

            IReadOnlyList<PortBindingView>? frontends = Find(ports, $"{number}/{proto}");
            if (frontends is null || frontends.Count == 0)
            {
                return Fail($"Error: No public port '{port}' published for {container}\n");
            }

            lines.AddRange(frontends.Select(JoinHostPort));
        }
        else
        {
            foreach (KeyValuePair<string, IReadOnlyList<PortBindingView>?> kv in ports)
            {
                lines.AddRange((kv.Value ?? []).Select(f => $"{kv.Key} -> {JoinHostPort(f)}"));
            }
        }

        if (lines.Count == 0)
        {
            return new CommandOutput(string.Empty, string.Empty, 0);
        }

        // Compare UTF-8 bytes as the Go code does, encoding each line once rather than in every comparison.
        var keyed = lines.Select(l => (Line: l, Bytes: System.Text.Encoding.UTF8.GetBytes(l))).ToList();
        keyed.Sort(static (a, b) => NaturalOrder.Less(a.Bytes, b.Bytes) ? -1 : NaturalOrder.Less(b.Bytes, a.Bytes) ? 1 : 0);
        return new CommandOutput(string.Join('\n', keyed.Select(k => k.Line)) + "\n", string.Empty, 0);
    }

    private static CommandOutput FormatLegacy(string container, List<KeyValuePair<string, IReadOnlyList<PortBindingView>?>> ports, string? port)
    {
        var sb = new System.Text.StringBuilder();
        if (!string.IsNullOrEmpty(port))
        {
            string number = port, proto = "tcp";
            string[] parts = port.Split('/', 2);
            if (parts.Length == 2 && parts[1].Length != 0)
            {
                number = parts[0];
                proto = parts[1];
            }

            if (!PortSpecParser.TryParseRange(number, out PortRange range))
            {
                return Fail((ParseUintError(number.Split('-')[0]) ?? $"invalid range specified for port: {number}") + "\n");
            }

            string key = range.IsSingle ? $"{range.Start}/{proto}" : $"{range.Start}-{range.End}/{proto}";
            IReadOnlyList<PortBindingView>? frontends = Find(ports, key);
            if (frontends is null)
            {
                return Fail($"Error: No public port '{number}/{proto}' published for {container}\n");
            }

            foreach (PortBindingView f in frontends)
            {
                sb.Append(f.HostIp).Append(':').Append(f.HostPort).Append('\n');
            }
        }
        else
        {
            foreach (KeyValuePair<string, IReadOnlyList<PortBindingView>?> kv in ports)
            {
                foreach (PortBindingView f in kv.Value ?? [])
                {
                    sb.Append(kv.Key).Append(" -> ").Append(f.HostIp).Append(':').Append(f.HostPort).Append('\n');
                }
            }
        }

        return new CommandOutput(sb.ToString(), string.Empty, 0);
    }

    private static IReadOnlyList<PortBindingView>? Find(List<KeyValuePair<string, IReadOnlyList<PortBindingView>?>> ports, string key)
    {
        foreach (KeyValuePair<string, IReadOnlyList<PortBindingView>?> kv in ports)
        {
            if (kv.Key == key)
            {
                return kv.Value;
            }
        }

        return null;
    }

    private static CommandOutput Fail(string stderr) => new(string.Empty, stderr, 1);

    /// <summary>Go's <c>net.JoinHostPort</c>: any host containing ':' gets brackets.</summary>
    private static string JoinHostPort(PortBindingView f) =>
        f.HostIp.Contains(':', StringComparison.Ordinal) ? $"[{f.HostIp}]:{f.HostPort}" : $"{f.HostIp}:{f.HostPort}";

    /// <summary>The text of Go's <c>strconv.ParseUint(s, 10, 16)</c> error, or null when it parses.</summary>
    private static string? ParseUintError(string s)
    {
        if (s.Length == 0)
        {
            return Syntax(s);
        }

        uint n = 0;
        foreach (char c in s)
        {
            if (c is < '0' or > '9')
            {
                return Syntax(s);
            }

            n = (n * 10) + (uint)(c - '0');
            if (n > ushort.MaxValue)
            {
                return $"strconv.ParseUint: parsing {GoNet.Quote(s)}: value out of range";
            }
        }

        return null;

        static string Syntax(string s) => $"strconv.ParseUint: parsing {GoNet.Quote(s)}: invalid syntax";
    }
}
