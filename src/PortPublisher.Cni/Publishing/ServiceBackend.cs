using System.Net;
using System.Net.Sockets;
using PortPublisher.Cni.Spec;
using PortPublisher.Core.Api;
using PortPublisher.Core.Publications;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Nft;

namespace PortPublisher.Cni.Publishing;

/// <summary>
/// Publishes through portpublisherd, so <c>portpublisher ls</c>/<c>port</c>, the metrics and the self-repair cover CNI
/// attachments too. One publication per attachment, named <see cref="Attachment.PublicationName"/>, marked with
/// <see cref="CniAttachment"/>: NAT only, no port-holding sockets (the runtime holds them), and for snat the host's
/// own 127.0.0.1 clients DNAT'ed as portmap does. The targets are prevResult's addresses on the interface, one per
/// family, so a dual-stack container is published on both families as portmap publishes it.
/// </summary>
internal sealed class ServiceBackend(NetConf conf, ServiceClient client) : IPortBackend
{
    public string Name => "service";

    public async Task AddAsync(AddRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        string name = request.Attachment.PublicationName;
        var body = new PublishRequest(
            name,
            request.Netns,
            [.. request.Plan.Bindings.Select(BindingPlan.Spec)],
            PublishMode.Nat,
            TargetIp: null,
            DryRun: false,
            new CniAttachment(request.Attachment.ContainerId, request.Attachment.IfName, request.Network, request.Snat),
            [.. new[] { request.Plan.ContainerV4, request.Plan.ContainerV6 }.OfType<IPAddress>().Select(a => a.ToString())]);

        (HttpStatusCode status, string text) = await PostAsync(body, cancellationToken);
        if (status == HttpStatusCode.Conflict && text.StartsWith("Conflict. The publication name", StringComparison.Ordinal))
        {
            // An ADD for an attachment published before (a runtime that retries, a reload without DEL) replaces it.
            await DelAsync(request.Attachment, cancellationToken);
            (status, text) = await PostAsync(body, cancellationToken);
        }

        if (status is not (HttpStatusCode.Created or HttpStatusCode.OK))
        {
            throw Map(status, text, $"publish {name}");
        }
    }

    public async Task<bool> DelAsync(Attachment attachment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(attachment);
        string name = attachment.PublicationName;
        (HttpStatusCode status, string text) = await client.SendAsync(HttpMethod.Delete, $"v1/publications/{Uri.EscapeDataString(name)}", null, cancellationToken);
        return status switch
        {
            HttpStatusCode.OK => true,
            HttpStatusCode.NotFound => false,
            _ => throw Map(status, text, $"unpublish {name}"),
        };
    }

    public async Task<bool> HasAsync(Attachment attachment, CancellationToken cancellationToken) =>
        await GetAsync(attachment, cancellationToken) is not null;

    public async Task CheckAsync(Attachment attachment, IReadOnlyList<NatBinding> expected, bool snat, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(attachment);
        ArgumentNullException.ThrowIfNull(expected);
        PublicationDto p = await GetAsync(attachment, cancellationToken)
            ?? throw new CniException(CniErrorCode.ErrCheckFailed, $"attachment {attachment} has no publication {attachment.PublicationName} in portpublisherd");

        var problems = new List<string>();
        if (p.Cni is null || p.Cni.ContainerId != attachment.ContainerId || p.Cni.IfName != attachment.IfName)
        {
            problems.Add($"publication {p.Name} is not this attachment's (it was not made by portpublisher-cni for {attachment})");
        }

        (IPAddress? v4, IPAddress? v6) targets = Targets(p);
        HashSet<NatBinding> published = [.. p.Bindings.Select(b => ToNat(b, targets))];
        HashSet<NatBinding> want = [.. expected];
        problems.AddRange(want.Where(b => !published.Contains(b)).Select(b => $"{b} was not published"));
        problems.AddRange(published.Where(b => !want.Contains(b)).Select(b => $"{b} is published but not in this CHECK's port mappings"));

        // The service's word is not enough: the elements must be in the kernel's maps.
        (HttpStatusCode status, string text) = await client.SendAsync(HttpMethod.Get, "v1/status", null, cancellationToken);
        if (status != HttpStatusCode.OK)
        {
            throw Map(status, text, "status");
        }

        string table = ServiceClient.Parse(text, ApiJsonContext.Default.StatusDto, client.SocketPath).Table ?? ServiceFootprint.DefaultTable;
        try
        {
            using var nft = new NftablesBackend(null, new NftablesOptions { TableName = table });
            HashSet<NatBinding> kernel = [.. nft.ReadBindings()];
            IEnumerable<NatBinding> elements = published.Concat(p.Cni?.Snat ?? snat ? published.Where(b => b.HostIp is null && !b.IsIPv6).Select(b => b with { HostIp = IPAddress.Loopback }) : []);
            problems.AddRange(elements.Where(b => !kernel.Contains(b)).Select(b => $"element {b} is missing from table {table}"));
        }
        catch (Exception e) when (e is NetlinkException or NetlinkProtocolException)
        {
            problems.Add($"the service's tables ip/ip6 {table} cannot be read: {e.Message}");
        }

        if (problems.Count > 0)
        {
            throw new CniException(CniErrorCode.ErrCheckFailed, $"attachment {attachment}: {problems[0]}", string.Join("; ", problems));
        }
    }

    public async Task<int> GcAsync(string network, IReadOnlyCollection<Attachment> valid, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(valid);
        HashSet<string> keep = [.. valid.Select(a => a.PublicationName)];
        int removed = 0;
        CniException? first = null;
        foreach (PublicationDto p in await ListAsync(cancellationToken))
        {
            if (p.Cni is not { } cni || cni.Network != network || keep.Contains(p.Name))
            {
                continue;
            }

            try
            {
                removed += await DelAsync(new Attachment(cni.ContainerId, cni.IfName), cancellationToken) ? 1 : 0;
            }
            catch (CniException e)
            {
                // GC is best effort: one that cannot go now does not keep the others.
                first ??= e;
            }
        }

        return first is null ? removed : throw first;
    }

    public async Task StatusAsync(CancellationToken cancellationToken)
    {
        (HttpStatusCode status, string text) = await client.SendAsync(HttpMethod.Get, "v1/status", null, cancellationToken);
        if (status != HttpStatusCode.OK)
        {
            throw new CniException(CniErrorCode.ErrPluginNotAvailable, $"portpublisherd at {client.SocketPath} answered status with {(int)status}: {text}");
        }

        StatusDto s = ServiceClient.Parse(text, ApiJsonContext.Default.StatusDto, client.SocketPath);
        if (!s.Backend.StartsWith("nftables", StringComparison.Ordinal))
        {
            throw new CniException(CniErrorCode.ErrPluginNotAvailable, $"portpublisherd at {client.SocketPath} cannot NAT: {s.Backend}");
        }
    }

    public async Task<IReadOnlyList<NatBinding>> HeldAsync(Attachment? except, CancellationToken cancellationToken)
    {
        string? skip = except?.PublicationName;
        return [.. (await ListAsync(cancellationToken)).Where(p => p.Name != skip).SelectMany(p =>
        {
            (IPAddress? V4, IPAddress? V6) targets = Targets(p);
            return p.Bindings.Select(b => ToNat(b, targets));
        })];
    }

    private async Task<PublicationDto?> GetAsync(Attachment attachment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(attachment);
        string name = attachment.PublicationName;
        (HttpStatusCode status, string text) = await client.SendAsync(HttpMethod.Get, $"v1/publications/{Uri.EscapeDataString(name)}", null, cancellationToken);
        return status switch
        {
            HttpStatusCode.OK => ServiceClient.Parse(text, ApiJsonContext.Default.PublicationDto, client.SocketPath),
            HttpStatusCode.NotFound => null,
            _ => throw Map(status, text, $"get {name}"),
        };
    }

    private async Task<List<PublicationDto>> ListAsync(CancellationToken cancellationToken)
    {
        (HttpStatusCode status, string text) = await client.SendAsync(HttpMethod.Get, "v1/publications", null, cancellationToken);
        return status == HttpStatusCode.OK ? ServiceClient.Parse(text, ApiJsonContext.Default.ListPublicationDto, client.SocketPath) : throw Map(status, text, "list");
    }

    private Task<(HttpStatusCode, string)> PostAsync(PublishRequest body, CancellationToken cancellationToken) =>
        client.SendAsync(HttpMethod.Post, "v1/publications", ServiceClient.Json(body, ApiJsonContext.Default.PublishRequest), cancellationToken);

    /// <summary>A publication's target per family, as the service lists them (an older service gives only <c>targetIp</c>).</summary>
    private static (IPAddress? V4, IPAddress? V6) Targets(PublicationDto publication)
    {
        IPAddress[] all = [.. (publication.TargetIps is { Count: > 0 } listed ? listed : publication.TargetIp is { } one ? [one] : [])
            .Select(t => IPAddress.TryParse(t, out IPAddress? a) ? a : null).OfType<IPAddress>()];
        return (all.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork), all.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetworkV6));
    }

    /// <summary>
    /// A binding as the service lists it, in our NAT form (a wildcard host address is null), to the publication's target
    /// of the binding's family (a NAT'ed binding never crosses families).
    /// </summary>
    private static NatBinding ToNat(BindingDto b, (IPAddress? V4, IPAddress? V6) targets)
    {
        IPAddress host = IPAddress.Parse(b.HostIp);
        bool any = host.Equals(IPAddress.Any) || host.Equals(IPAddress.IPv6Any);
        Protocol protocol = ProtocolNames.TryParse(b.Protocol, out Protocol p) ? p : throw new CniException(CniErrorCode.ErrServiceFailed, $"portpublisherd listed a binding of unknown protocol \"{b.Protocol}\"");
        IPAddress target = host.AddressFamily == AddressFamily.InterNetworkV6 ? targets.V6 ?? IPAddress.IPv6None : targets.V4 ?? IPAddress.None;
        return new NatBinding(any ? null : host, protocol, b.HostPort, target, b.ContainerPort);
    }

    private CniException Map(HttpStatusCode status, string message, string what) => status switch
    {
        HttpStatusCode.BadRequest => new CniException(CniErrorCode.ErrInvalidNetworkConfig, message, $"portpublisherd refused {what}"),
        HttpStatusCode.NotFound => new CniException(CniErrorCode.ErrInvalidNetNS, message, $"portpublisherd: {what}"),
        HttpStatusCode.Conflict => new CniException(CniErrorCode.ErrPortAllocated, message, $"portpublisherd: {what}"),
        HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout => new CniException(CniErrorCode.ErrTryAgainLater, message, $"portpublisherd: {what}"),
        _ => new CniException(CniErrorCode.ErrServiceFailed, message, $"portpublisherd answered {what} with {(int)status} ({conf.Socket})"),
    };
}
