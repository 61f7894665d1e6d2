using System.Net;
using System.Net.Sockets;
using PortPublisher.Core.Publications;
using PortPublisher.Core.Specs;

namespace PortPublisher.Service.Publications;

/// <summary>
/// Which carrier moves a binding, as a pure function of the binding's host side, the target and the mode. NAT needs
/// nftables, a target address of the binding's family, and a host route to it; <c>::1</c> can never be DNAT'ed (the
/// kernel keeps it on lo). Everything else the proxy carries, dialing from inside the namespace, as docker-proxy does
/// (v6 to v4 included), and in <c>auto</c> also <c>127.0.0.0/8</c>, so the service never needs route_localnet unless
/// told <c>nat</c>. SCTP only NAT carries. <c>nat</c> behaves like Docker's <c>userland-proxy=false</c>: the
/// <c>[::]</c> half of an address-less spec is skipped for an IPv4-only target, an explicit one is refused.
/// </summary>
internal static class CarrierPolicy
{
    /// <summary>Docker 28's log line for the same skip (docker-semantics.md §2.2).</summary>
    public const string SkippedV6Warning = "Cannot map from default host binding address to an IPv4-only container because the userland proxy is disabled";

    /// <param name="hostIp">The binding's host address.</param>
    /// <param name="protocol">The binding's protocol.</param>
    /// <param name="impliedV6">It is the <c>[::]</c> binding that an address-less spec (<c>-p 8080:80</c>) implies.</param>
    /// <param name="target">Where traffic goes in the namespace.</param>
    /// <param name="mode">The publication's mode.</param>
    /// <param name="natAvailable">nftables works here.</param>
    public static CarrierDecision Choose(IPAddress hostIp, Protocol protocol, bool impliedV6, Target target, PublishMode mode, bool natAvailable)
    {
        ArgumentNullException.ThrowIfNull(hostIp);
        ArgumentNullException.ThrowIfNull(target);
        bool v6Host = hostIp.AddressFamily == AddressFamily.InterNetworkV6;
        IPAddress? same = v6Host ? target.V6 : target.V4;
        bool routable = v6Host ? target.V6Routable : target.V4Routable;
        bool loopback6 = hostIp.Equals(IPAddress.IPv6Loopback);
        string? whyNotNat =
            !natAvailable ? "nftables is unavailable"
            : loopback6 ? "::1 cannot be DNAT'ed (the kernel keeps it on lo)"
            : same is null ? $"the target has no {(v6Host ? "IPv6" : "IPv4")} address"
            : !routable ? $"the host has no route to the target's {same}"
            : null;

        if (mode != PublishMode.Proxy && whyNotNat is not null && impliedV6 && v6Host && target.V6 is null && target.V4 is not null
            && (mode == PublishMode.Nat || protocol == Protocol.Sctp))
        {
            return CarrierDecision.Skip(SkippedV6Warning);
        }

        if (protocol == Protocol.Sctp)
        {
            return mode == PublishMode.Proxy
                ? CarrierDecision.Refuse("the userland proxy does not carry SCTP (only NAT does): publish SCTP ports with --mode auto or nat, to a target address the host routes to")
                : whyNotNat is null
                    ? CarrierDecision.Use(Carrier.Nat, same!)
                    : CarrierDecision.Refuse($"SCTP is carried only by NAT, and NAT cannot carry this binding: {whyNotNat}");
        }

        // 127.0.0.0/8 over NAT needs route_localnet on the host's link to the target, which lets packets to 127/8
        // in from that link; only our loopback guard keeps them out, and nothing guards once the service has stopped
        // and someone flushes the ruleset. Docker with its userland proxy never sets route_localnet either.
        bool loopback4 = !v6Host && IPAddress.IsLoopback(hostIp);
        if (mode == PublishMode.Auto && whyNotNat is null && !loopback4)
        {
            return CarrierDecision.Use(Carrier.Nat, same!);
        }

        if (mode == PublishMode.Nat && whyNotNat is null)
        {
            return CarrierDecision.Use(Carrier.Nat, same!);
        }

        if (mode == PublishMode.Nat)
        {
            return CarrierDecision.Refuse($"NAT cannot carry this binding: {whyNotNat}; use --mode auto or proxy");
        }

        IPAddress? proxyTarget = same ?? target.V4 ?? target.V6;
        return proxyTarget is not null
            ? CarrierDecision.Use(Carrier.Proxy, proxyTarget)
            : CarrierDecision.Refuse("the target namespace has no address to send traffic to");
    }
}
