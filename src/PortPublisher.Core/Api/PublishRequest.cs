using PortPublisher.Core.Publications;

namespace PortPublisher.Core.Api;

/// <summary><c>POST /v1/publications</c>: publish <see cref="Specs"/> (Docker <c>-p</c> values) for a target namespace.</summary>
/// <param name="Name">Publication name (Docker container-name rules).</param>
/// <param name="Netns">An <c>ip netns</c> name, a namespace path such as <c>/proc/PID/ns/net</c>, <c>container:NAME</c> or <c>host</c>.</param>
/// <param name="Specs">The <c>-p</c> values, as typed.</param>
/// <param name="Mode"><c>auto</c>, <c>nat</c> or <c>proxy</c>; null (left out) for the service default.</param>
/// <param name="TargetIp">The address inside the namespace to send traffic to; null to discover it.</param>
/// <param name="DryRun">Plan only: allocate nothing, change nothing.</param>
/// <param name="Cni">Set by the CNI plugin: the publication is that attachment's (NAT only, no port-holding sockets).</param>
/// <param name="TargetIps">
/// Target addresses, at most one per family, with or instead of <paramref name="TargetIp"/>: a dual-stack container's
/// IPv4 and IPv6 address (the CNI plugin sends prevResult's two). A family left out is discovered only when no address
/// is given at all.
/// </param>
public sealed record PublishRequest(string Name, string Netns, IReadOnlyList<string> Specs, PublishMode? Mode = null, string? TargetIp = null, bool DryRun = false, CniAttachment? Cni = null, IReadOnlyList<string>? TargetIps = null);
