using System.Diagnostics;
using CsCheck;
using PortPublisher.Core.Specs;

namespace PortPublisher.Bench.Fuzz;

/// <summary>
/// The <c>-p</c> parser. Every input either parses or throws <see cref="PortSpecException"/> with a message and the
/// spec; a parse is sane (one to 65,536 consecutive container ports of one protocol, host ranges ordered, a host IP
/// that Go's <c>net.ParseIP</c> takes or none) and round-trips: each mapping written back in short syntax parses to
/// itself alone.
/// </summary>
internal sealed class PortSpecFuzzTarget
{
    private static readonly string[] s_tokens =
    [
        "", ":", "::", "/", "-", "[", "]", "=", ",", "%", ".", "0", "1", "80", "8080", "65535", "65536", "99999", "00080",
        "0.0.0.0", "127.0.0.1", "192.0.2.1", "1.2.3", "01.2.3.4", "::", "::1", "[::1]", "[::]", "2001:db8::1", "fe80::1%eth0",
        "::ffff:1.2.3.4", "1::2::3", "tcp", "udp", "sctp", "TCP", "icmp", "published=", "target=", "protocol=", "mode=ingress",
        "1-65535", "80-90", "90-80", "80-", "-80", "80-90-100",
    ];

    public PortSpecFuzzTarget(IReadOnlyList<string> seeds)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        if (seeds.Count == 0)
        {
            throw new ArgumentException("at least one seed", nameof(seeds));
        }

        Seeds = seeds;
        Gen<string> token = Gen.Frequency(
            (8, Gen.Int[0, s_tokens.Length - 1].Select(i => s_tokens[i])),
            (2, Gen.Int[0, 70000].Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))),
            (1, Gen.Char.Select(c => c.ToString())));
        Gen<string> grammar = token.Array[1, 9].Select(string.Concat);
        Gen<string> mutated = Gen.Select(Gen.Int[0, seeds.Count - 1], Gen.ULong).Select((i, state) => SpecMutator.Mutate(seeds[i], state));
        Gen<string> port = Gen.OneOf(
            Gen.Int[0, 65535].Select(p => p.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            Gen.Select(Gen.Int[0, 65535], Gen.Int[0, 40]).Select((p, n) => $"{p}-{Math.Min(65535, p + n)}"),
            Gen.Const(string.Empty));
        Gen<string> shaped = Gen.Select(
                Gen.OneOf(Gen.Const(string.Empty), Gen.Const("0.0.0.0"), Gen.Const("[::]"), Gen.Const("::1"), Gen.Const("[fe80::1]"), Gen.Const("::ffff:192.0.2.1"), Gen.Byte.Array[4].Select(b => string.Join('.', b))),
                port,
                port,
                Gen.OneOf(Gen.Const(string.Empty), Gen.Const("/tcp"), Gen.Const("/Udp"), Gen.Const("/sctp"), Gen.Const("/"), Gen.Const("/udp/x")))
            .Select((ip, host, container, proto) => ip.Length > 0 ? $"{ip}:{host}:{container}{proto}" : host.Length > 0 ? $"{host}:{container}{proto}" : $"{container}{proto}");
        Inputs = Gen.Frequency((5, mutated), (3, grammar), (2, shaped), (1, Gen.String[Gen.Char, 0, 40]));
    }

    public IReadOnlyList<string> Seeds { get; }

    /// <summary>Mutated corpus values (most), token strings from the grammar's pieces, specs of the right shape, and arbitrary strings.</summary>
    public Gen<string> Inputs { get; }

    /// <summary>Distinct error texts seen, up to the first number (they embed the input): shows how many of Docker's branches the cases reach.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, long> Errors { get; } = new();

    /// <summary>The corpus's specs (first column), from Docker 28.2's recorded results.</summary>
    public static List<string> ReadCorpus(string tsvPath) =>
        [.. File.ReadAllLines(tsvPath).Skip(1).Where(l => l.Length > 0).Select(l => l.Split('\t')[0]).Distinct()];

    public FuzzResult Run(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        IReadOnlyList<PortMapping> mappings;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        try
        {
            mappings = PortSpecParser.Parse(spec);
        }
        catch (PortSpecException e)
        {
            if (string.IsNullOrEmpty(e.Message) || e.Spec != spec)
            {
                return FuzzResult.Failure("PortSpecException without a message or the spec", $"message \"{e.Message}\", spec \"{e.Spec}\"");
            }

            Errors.AddOrUpdate(ErrorKind(e.Message), 1, (_, n) => n + 1);
            return FuzzResult.Rejected("PortSpecException");
        }
        catch (Exception e)
        {
            return FuzzResult.Unexpected("PortSpecParser.Parse", e);
        }

        clock.Stop();
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;

        // 65,536 mappings (0-65535) is the most one spec can mean; each costs a record and its strings' share.
        if (clock.ElapsedMilliseconds > 1000 || allocated > (65536L * 256) + (64L * spec.Length))
        {
            return FuzzResult.Failure("slow or allocation past the bound", $"{clock.ElapsedMilliseconds} ms, {allocated:N0} bytes");
        }

        return Check(spec, mappings);
    }

    /// <summary>
    /// Docker's error text without the input it quotes: the leading words (<c>invalid IP address</c>), and for
    /// bracketed addresses Go's reason after the last colon (<c>missing ']' in address</c>).
    /// </summary>
    private static string ErrorKind(string message)
    {
        int words = 0;
        while (words < message.Length && (char.IsAsciiLetter(message[words]) || message[words] == ' '))
        {
            words++;
        }

        string kind = message[..words].Trim();
        int reason = message.LastIndexOf(": ", StringComparison.Ordinal);
        string why = reason < 0 ? string.Empty : message[(reason + 2)..];
        return why.EndsWith(" in address", StringComparison.Ordinal) ? $"{kind} … {why}" : kind;
    }

    private static FuzzResult Check(string spec, IReadOnlyList<PortMapping> mappings)
    {
        if (mappings.Count is 0 or > 65536)
        {
            return FuzzResult.Failure("mapping count", $"{mappings.Count} mappings");
        }

        PortMapping first = mappings[0];
        if (first.HostIp.Length > 0 && !GoNet.TryParseIP(first.HostIp, out _))
        {
            return FuzzResult.Failure("host IP that net.ParseIP refuses", first.HostIp);
        }

        for (int i = 0; i < mappings.Count; i++)
        {
            PortMapping m = mappings[i];
            if (m.ContainerPort != first.ContainerPort + i || m.Protocol != first.Protocol || m.HostIp != first.HostIp || !Enum.IsDefined(m.Protocol))
            {
                return FuzzResult.Failure("mappings not consecutive ports of one protocol and address", $"{i}: {m}");
            }

            if (m.HostPort is PortRange h && h.Start > h.End)
            {
                return FuzzResult.Failure("host range out of order", m.ToString());
            }

            string again = Format(m);
            IReadOnlyList<PortMapping> back;
            try
            {
                back = PortSpecParser.Parse(again);
            }
            catch (PortSpecException e)
            {
                return FuzzResult.Failure("round trip refused", $"\"{spec}\" gave {m}, written back as \"{again}\": {e.Message}");
            }

            if (back.Count != 1 || back[0] != m)
            {
                return FuzzResult.Failure("round trip changed the mapping", $"\"{spec}\" gave {m}, \"{again}\" gives {string.Join(", ", back)}");
            }

            // A 65,536-port range is checked at both ends and a sample between: the round trip is per mapping.
            if (i == 8 && mappings.Count > 64)
            {
                i = mappings.Count - 9;
            }
        }

        return FuzzResult.Value;
    }

    /// <summary>Short syntax for one mapping: <c>[ip]:host:container/proto</c>, IPv6 bracketed.</summary>
    private static string Format(PortMapping m)
    {
        string ip = m.HostIp.Contains(':', StringComparison.Ordinal) ? $"[{m.HostIp}]" : m.HostIp;
        string container = $"{m.ContainerPort}/{m.Protocol.ToName()}";
        return (ip.Length, m.HostPort) switch
        {
            (0, null) => container,
            (0, PortRange h) => $"{h}:{container}",
            (_, null) => $"{ip}::{container}",
            (_, PortRange h) => $"{ip}:{h}:{container}",
        };
    }
}
