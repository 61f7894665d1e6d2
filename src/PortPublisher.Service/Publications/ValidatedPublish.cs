using System.Net;
using PortPublisher.Core.Publications;
using PortPublisher.Core.Specs;

namespace PortPublisher.Service.Publications;

/// <summary>A publish request that passed every check that needs no state: names, specs, mode, address.</summary>
/// <param name="Cni">The CNI attachment it is for (NAT only, the runtime holds the ports), or null.</param>
internal sealed record ValidatedPublish(
    string Name,
    string Netns,
    IReadOnlyList<string> Specs,
    IReadOnlyList<PortMapping> Mappings,
    PublishMode? Mode,
    IReadOnlyList<IPAddress> TargetIps,
    bool DryRun,
    Core.Api.CniAttachment? Cni = null);
