using System.Net;
using System.Text.RegularExpressions;
using PortPublisher.Core.Publications;
using PortPublisher.Core.Specs;

namespace PortPublisher.Core.Sandboxes;

/// <summary>
/// Checks a create request, in the CLI (exit 2 before any request) and again in the service (400): every bad part is
/// named, with Docker's texts where Docker has one, and nothing is created.
/// </summary>
public static partial class SandboxRequestValidator
{
    public const string PortsWithContainerMode = "conflicting options: port publishing and the container type network mode";
    public const string HostnameWithNetworkMode = "conflicting options: hostname and the network mode";
    public const string DnsWithNetworkMode = "conflicting options: dns and the network mode";
    public const string ExtraHostsWithNetworkMode = "conflicting options: custom host-to-IP mapping and the network mode";

    public static ValidatedSandbox? Validate(SandboxCreateRequest request, out List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(request);
        errors = [];
        if (SandboxName.Check(request.Name) is { } badName)
        {
            errors.Add(badName);
        }

        if (!NetworkMode.TryParse(request.Network, out NetworkMode mode, out string? modeError))
        {
            errors.Add(modeError!);
        }

        // A JSON body may hold nulls in its lists: each is named, then left out of the checks below.
        List<string> dns = NonNull(request.Dns, "--dns", errors), search = NonNull(request.DnsSearch, "--dns-search", errors), options = NonNull(request.DnsOptions, "--dns-option", errors);
        List<string> addHosts = NonNull(request.AddHosts, "--add-host", errors), specs = NonNull(request.Specs, "-p", errors);
        bool shared = mode.Kind is NetworkModeKind.Container or NetworkModeKind.Host;
        if (request.Hostname is { } h)
        {
            if (shared)
            {
                errors.Add(HostnameWithNetworkMode);
            }
            else if (!Hostname().IsMatch(h) || h.Length > 64)
            {
                errors.Add($"invalid --hostname {GoNet.Quote(h)}: use letters, digits, '-' and '.', at most 64 characters, labels of at most 63");
            }
        }

        if (shared && (dns.Count > 0 || search.Count > 0 || options.Count > 0))
        {
            errors.Add(DnsWithNetworkMode);
        }

        if (shared && addHosts.Count > 0)
        {
            errors.Add(ExtraHostsWithNetworkMode);
        }

        // Docker's opts.ValidateIPAddress: trimmed, then written back in its canonical form.
        var nameservers = new List<string>();
        foreach (string d in dns)
        {
            if (GoNet.TryParseIP(d.Trim(), out IPAddress? server))
            {
                nameservers.Add(GoNet.FormatIP(server!));
            }
            else
            {
                errors.Add($"invalid argument {GoNet.Quote(d)} for \"--dns\" flag: IP address is not correctly formatted: {d}");
            }
        }

        foreach (string s in search)
        {
            if (s != "." && (s.Length > 255 || !Domain().IsMatch(s)))
            {
                errors.Add($"invalid argument {GoNet.Quote(s)} for \"--dns-search\" flag: {s} is not a valid domain");
            }
        }

        foreach (string o in options)
        {
            if (o.Length == 0 || o.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            {
                errors.Add($"invalid argument {GoNet.Quote(o)} for \"--dns-option\" flag: an option is one word (ndots:2, edns0, …)");
            }
        }

        var extra = new List<ExtraHost>();
        foreach (string a in addHosts)
        {
            if (ExtraHost.Parse(a, out string? e) is { } parsed)
            {
                extra.Add(parsed);
                if (parsed.Ip == ExtraHost.HostGateway && mode.Kind == NetworkModeKind.None)
                {
                    errors.Add($"invalid argument {GoNet.Quote(a)} for \"--add-host\" flag: host-gateway is the bridge's address, and a --network none sandbox has no bridge");
                }
            }
            else
            {
                errors.Add(e!);
            }
        }

        IPAddress? ip = null;
        if (request.Ip is { } requested)
        {
            if (!GoNet.TryParseIP(requested, out ip) || ip!.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            {
                errors.Add($"invalid --ip {GoNet.Quote(requested)}: not an IPv4 address");
            }
            else if (mode.Kind != NetworkModeKind.Bridge)
            {
                errors.Add($"--ip is only for --network bridge, not {mode}");
            }
        }

        var mappings = new List<PortMapping>();
        if (specs.Count > 0 && mode.IsContainer)
        {
            errors.Add(PortsWithContainerMode);
        }

        foreach (string spec in specs)
        {
            try
            {
                mappings.AddRange(PortSpecParser.Parse(spec));
            }
            catch (PortSpecException e)
            {
                errors.Add($"invalid -p {GoNet.Quote(spec)}: {e.Message}");
            }
        }

        if (specs.Count > 0 && request.Name is { Length: > 0 } n && SandboxName.Check(n) is null && PublicationName.Normalize(n, out string? pubError) is null)
        {
            // Its ports are a publication of the same name, and those follow Docker's container names.
            errors.Add($"sandbox \"{n}\" cannot publish ports: {pubError}");
        }

        return errors.Count > 0 ? null : new ValidatedSandbox(request.Name, mode, request.Hostname, nameservers, search, options, extra, ip, specs, mappings);
    }

    private static List<string> NonNull(IReadOnlyList<string>? values, string flag, List<string> errors)
    {
        var kept = new List<string>();
        foreach (string? v in values ?? [])
        {
            if (v is null)
            {
                errors.Add($"invalid {flag}: null");
            }
            else
            {
                kept.Add(v);
            }
        }

        return kept;
    }

    [GeneratedRegex(@"\A[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\z", RegexOptions.CultureInvariant)]
    private static partial Regex Hostname();

    // Docker's opts.validateDomain: labels of letters, digits and inner '-', an optional final '.'.
    [GeneratedRegex(@"\A([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(\.([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*\.?\z", RegexOptions.CultureInvariant)]
    private static partial Regex Domain();
}
