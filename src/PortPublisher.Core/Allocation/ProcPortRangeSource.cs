using System.Globalization;
using PortPublisher.Core.Specs;

namespace PortPublisher.Core.Allocation;

/// <summary>
/// Reads <c>/proc/sys/net/ipv4/ip_local_port_range</c> and <c>ip_local_reserved_ports</c> once, as Docker's
/// allocator does on first use. When the range cannot be read it falls back to Docker's 49153–65535 and
/// says so in <see cref="Warning"/>.
/// </summary>
public sealed class ProcPortRangeSource : IPortRangeSource
{
    /// <summary>Docker's fallback (and non-Linux default) dynamic range.</summary>
    public static readonly PortRange DockerFallbackRange = new(49153, 65535);

    private readonly HashSet<ushort> _reserved;

    public ProcPortRangeSource(string procSysNetIPv4 = "/proc/sys/net/ipv4")
    {
        string rangeFile = Path.Combine(procSysNetIPv4, "ip_local_port_range");
        string? rangeText = TryRead(rangeFile);
        if (rangeText is not null && TryParseRange(rangeText, out PortRange range))
        {
            DynamicRange = range;
        }
        else
        {
            DynamicRange = DockerFallbackRange;
            Warning = $"cannot read {rangeFile}: falling back to default port range {DockerFallbackRange}";
        }

        _reserved = ParseReserved(TryRead(Path.Combine(procSysNetIPv4, "ip_local_reserved_ports")) ?? string.Empty);
    }

    public PortRange DynamicRange { get; }

    /// <summary>Set when the kernel's range could not be used.</summary>
    public string? Warning { get; }

    public bool IsReserved(ushort port) => _reserved.Contains(port);

    internal static bool TryParseRange(string text, out PortRange range)
    {
        range = default;
        string[] f = text.Split([' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
        if (f.Length != 2 || !ushort.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out ushort start)
            || !ushort.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out ushort end) || start == 0 || end < start)
        {
            return false;
        }

        range = new PortRange(start, end);
        return true;
    }

    /// <summary>The kernel's list syntax: <c>8080,9000-9100</c>.</summary>
    internal static HashSet<ushort> ParseReserved(string text)
    {
        var set = new HashSet<ushort>();
        foreach (string item in text.Split([',', '\n', ' '], StringSplitOptions.RemoveEmptyEntries))
        {
            if (PortSpecParser.TryParseRange(item, out PortRange r))
            {
                for (int p = r.Start; p <= r.End; p++)
                {
                    set.Add((ushort)p);
                }
            }
        }

        return set;
    }

    private static string? TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
