using PortPublisher.Core.Specs;

namespace PortPublisher.Core.Sandboxes;

/// <summary>One <c>--add-host HOST:IP</c> (or <c>HOST=IP</c>), parsed as Docker 28's <c>opts.ValidateExtraHost</c> does.</summary>
public sealed record ExtraHost(string Host, string Ip)
{
    /// <summary>Docker's special address: the host as the sandbox reaches it (here, the bridge's gateway).</summary>
    public const string HostGateway = "host-gateway";

    /// <summary>Parses one value; null with Docker's error text when it is bad.</summary>
    public static ExtraHost? Parse(string value, out string? error)
    {
        ArgumentNullException.ThrowIfNull(value);
        error = null;

        // Split on the first '=' else the first ':', so an unbracketed IPv6 address keeps its colons.
        int cut = value.IndexOf('=', StringComparison.Ordinal);
        if (cut < 0)
        {
            cut = value.IndexOf(':', StringComparison.Ordinal);
        }

        string host = cut < 0 ? value : value[..cut];
        if (cut < 0 || host.Length == 0 || host.Contains(':', StringComparison.Ordinal))
        {
            error = $"invalid argument {GoNet.Quote(value)} for \"--add-host\" flag: bad format for add-host: {GoNet.Quote(value)}";
            return null;
        }

        // Docker checks no more than that, and writes the name into /etc/hosts as given: a space, tab or newline would
        // add names or whole lines of the caller's choosing there.
        if (host.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c == '#'))
        {
            error = $"invalid argument {GoNet.Quote(value)} for \"--add-host\" flag: invalid host name {GoNet.Quote(host)}: no spaces, control characters or '#'";
            return null;
        }

        string ip = value[(cut + 1)..];
        if (ip == HostGateway)
        {
            return new ExtraHost(host, ip);
        }

        if (ip.Length > 2 && ip[0] == '[' && ip[^1] == ']')
        {
            ip = ip[1..^1];
        }

        if (!GoNet.TryParseIP(ip.Trim(), out System.Net.IPAddress? address))
        {
            error = $"invalid argument {GoNet.Quote(value)} for \"--add-host\" flag: invalid IP address in add-host: {GoNet.Quote(ip)}";
            return null;
        }

        return new ExtraHost(host, GoNet.FormatIP(address!));
    }
}
