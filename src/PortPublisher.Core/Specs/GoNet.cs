using System.Net;

namespace PortPublisher.Core.Specs;

/// <summary>
/// The exact acceptance rules of the Go functions Docker's parser calls (<c>net.ParseIP</c>, which is
/// <c>netip.ParseAddr</c> without zones; <c>net.SplitHostPort</c>; <c>strconv.ParseUint(s, 10, 16)</c>).
/// .NET's own parsers accept more (<c>127.1</c>, zones, leading zeros, whitespace), so they cannot stand in.
/// </summary>
public static class GoNet
{
    /// <summary>Go's <c>strconv.ParseUint(s, 10, 16)</c>: ASCII digits only, no sign, no spaces, ≤ 65535.</summary>
    public static bool TryParseUInt16(string s, out ushort value)
    {
        value = 0;
        if (s.Length == 0)
        {
            return false;
        }

        uint acc = 0;
        foreach (char c in s)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }

            acc = (acc * 10) + (uint)(c - '0');
            if (acc > ushort.MaxValue)
            {
                return false;
            }
        }

        value = (ushort)acc;
        return true;
    }

    /// <summary>Go's <c>net.ParseIP</c> (Go ≥ 1.22): <c>netip.ParseAddr</c>, and a zone makes it fail.</summary>
    public static bool TryParseIP(string s, out IPAddress? address)
    {
        address = null;
        Span<byte> bytes = stackalloc byte[16];
        foreach (char c in s)
        {
            switch (c)
            {
                case '.':
                    if (!TryParseIPv4(s, bytes[..4]))
                    {
                        return false;
                    }

                    address = new IPAddress(bytes[..4]);
                    return true;
                case ':':
                    if (!TryParseIPv6(s, bytes))
                    {
                        return false;
                    }

                    address = new IPAddress(bytes);
                    return true;
                case '%':
                    return false;
            }
        }

        return false;
    }

    /// <summary>netip's parseIPv4Fields: four decimal fields, each ≤ 255, no leading zeros, nothing else.</summary>
    private static bool TryParseIPv4(ReadOnlySpan<char> s, Span<byte> fields)
    {
        int val = 0, pos = 0, digLen = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is >= '0' and <= '9')
            {
                if (digLen == 1 && val == 0)
                {
                    return false;
                }

                val = (val * 10) + (c - '0');
                digLen++;
                if (val > 255)
                {
                    return false;
                }
            }
            else if (c == '.')
            {
                if (i == 0 || i == s.Length - 1 || s[i - 1] == '.' || pos == 3)
                {
                    return false;
                }

                fields[pos++] = (byte)val;
                val = 0;
                digLen = 0;
            }
            else
            {
                return false;
            }
        }

        if (pos < 3)
        {
            return false;
        }

        fields[3] = (byte)val;
        return true;
    }

    /// <summary>netip's parseIPv6, with any zone rejected (net.ParseIP refuses zoned addresses).</summary>
    private static bool TryParseIPv6(ReadOnlySpan<char> s, Span<byte> ip)
    {
        if (s.Contains('%'))
        {
            return false;
        }

        ip.Clear();
        int ellipsis = -1;
        if (s.Length >= 2 && s[0] == ':' && s[1] == ':')
        {
            ellipsis = 0;
            s = s[2..];
            if (s.Length == 0)
            {
                return true;
            }
        }

        int i = 0;
        while (i < 16)
        {
            int off = 0;
            uint acc = 0;
            for (; off < s.Length; off++)
            {
                int digit = HexValue(s[off]);
                if (digit < 0)
                {
                    break;
                }

                acc = (acc << 4) + (uint)digit;
                if (off > 3 || acc > ushort.MaxValue)
                {
                    return false;
                }
            }

            if (off == 0)
            {
                return false;
            }

            if (off < s.Length && s[off] == '.')
            {
                if ((ellipsis < 0 && i != 12) || i + 4 > 16)
                {
                    return false;
                }

                if (!TryParseIPv4(s, ip.Slice(i, 4)))
                {
                    return false;
                }

                s = [];
                i += 4;
                break;
            }

            ip[i] = (byte)(acc >> 8);
            ip[i + 1] = (byte)acc;
            i += 2;

            s = s[off..];
            if (s.Length == 0)
            {
                break;
            }

            if (s[0] != ':' || s.Length == 1)
            {
                return false;
            }

            s = s[1..];
            if (s[0] == ':')
            {
                if (ellipsis >= 0)
                {
                    return false;
                }

                ellipsis = i;
                s = s[1..];
                if (s.Length == 0)
                {
                    break;
                }
            }
        }

        if (s.Length != 0)
        {
            return false;
        }

        if (i < 16)
        {
            if (ellipsis < 0)
            {
                return false;
            }

            int n = 16 - i;
            for (int j = i - 1; j >= ellipsis; j--)
            {
                ip[j + n] = ip[j];
            }

            ip.Slice(ellipsis, n).Clear();
        }
        else if (ellipsis >= 0)
        {
            return false;
        }

        return true;
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    /// <summary>
    /// Go's <c>net.SplitHostPort</c> for the only shape Docker's parser feeds it: a value that starts with
    /// <c>[</c> and has a <c>:</c> appended. Returns null on success, else Go's error text.
    /// </summary>
    public static string? SplitBracketedHost(string hostport, out string host)
    {
        host = string.Empty;
        int i = hostport.LastIndexOf(':');
        if (i < 0)
        {
            return AddrError(hostport, "missing port in address");
        }

        int j = 0, k = 0;
        if (hostport[0] == '[')
        {
            int end = hostport.IndexOf(']', StringComparison.Ordinal);
            if (end < 0)
            {
                return AddrError(hostport, "missing ']' in address");
            }

            if (end + 1 == hostport.Length)
            {
                return AddrError(hostport, "missing port in address");
            }

            if (end + 1 != i)
            {
                return hostport[end + 1] == ':'
                    ? AddrError(hostport, "too many colons in address")
                    : AddrError(hostport, "missing port in address");
            }

            host = hostport[1..end];
            j = 1;
            k = end + 1;
        }
        else
        {
            host = hostport[..i];
            if (host.Contains(':', StringComparison.Ordinal))
            {
                return AddrError(hostport, "too many colons in address");
            }
        }

        if (hostport.AsSpan(j).Contains('['))
        {
            host = string.Empty;
            return AddrError(hostport, "unexpected '[' in address");
        }

        if (hostport.AsSpan(k).Contains(']'))
        {
            host = string.Empty;
            return AddrError(hostport, "unexpected ']' in address");
        }

        return null;
    }

    private static string AddrError(string addr, string why) => addr.Length == 0 ? why : $"address {addr}: {why}";

    /// <summary>Go's <c>net.IP.String()</c>: dotted IPv4 (also for IPv4-mapped), else RFC 5952 with the leftmost longest zero run as <c>::</c>.</summary>
    public static string FormatIP(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(b, out _);
        Span<int> g = stackalloc int[8];
        for (int i = 0; i < 8; i++)
        {
            g[i] = (b[2 * i] << 8) | b[(2 * i) + 1];
        }

        int zeroStart = -1, zeroEnd = -1;
        for (int i = 0; i < 8; i++)
        {
            int j = i;
            while (j < 8 && g[j] == 0)
            {
                j++;
            }

            if (j - i >= 2 && j - i > zeroEnd - zeroStart)
            {
                zeroStart = i;
                zeroEnd = j;
            }
        }

        var sb = new System.Text.StringBuilder(39);
        for (int i = 0; i < 8; i++)
        {
            if (i == zeroStart)
            {
                sb.Append("::");
                i = zeroEnd - 1;
                continue;
            }

            if (sb.Length > 0 && sb[^1] != ':')
            {
                sb.Append(':');
            }

            sb.Append(g[i].ToString("x", System.Globalization.CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }

    /// <summary>Go's <c>strconv.Quote</c> for the texts the CLI echoes in errors.</summary>
    public static string Quote(string s)
    {
        var sb = new System.Text.StringBuilder(s.Length + 2).Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\a': sb.Append("\\a"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\v': sb.Append("\\v"); break;
                default:
                    if (c < 0x20 || c == 0x7f)
                    {
                        sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        return sb.Append('"').ToString();
    }
}

