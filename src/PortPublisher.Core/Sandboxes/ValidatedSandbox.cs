using System.Net;
using PortPublisher.Core.Specs;

namespace PortPublisher.Core.Sandboxes;

/// <summary>A create request that passed <see cref="SandboxRequestValidator"/>: parsed and consistent.</summary>
public sealed record ValidatedSandbox(
    string Name,
    NetworkMode Network,
    string? Hostname,
    IReadOnlyList<string> Dns,
    IReadOnlyList<string> DnsSearch,
    IReadOnlyList<string> DnsOptions,
    IReadOnlyList<ExtraHost> AddHosts,
    IPAddress? Ip,
    IReadOnlyList<string> Specs,
    IReadOnlyList<PortMapping> Mappings);
