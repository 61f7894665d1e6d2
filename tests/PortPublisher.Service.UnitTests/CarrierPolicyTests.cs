using System.Net;
using PortPublisher.Core.Publications;
using PortPublisher.Core.Specs;
using PortPublisher.Service.Publications;
using Xunit;

namespace PortPublisher.Service.UnitTests;

public sealed class CarrierPolicyTests
{
    private static readonly IPAddress s_v4 = IPAddress.Parse("10.88.0.2");
    private static readonly IPAddress s_v6 = IPAddress.Parse("fd00::2");

    private static readonly Dictionary<string, Target> s_targets = new()
    {
        ["v4"] = new Target(s_v4, null, true, false, "veth0"),
        ["dual"] = new Target(s_v4, s_v6, true, true, "veth0"),
        ["v4-unrouted"] = new Target(s_v4, null, false, false, null),
        ["lo-only"] = new Target(IPAddress.Loopback, null, false, false, null),
        ["none"] = new Target(null, null, false, false, null),
    };

    /// <summary>host address, protocol, implied [::], target, mode, nftables works → carrier:target, skip, or the refusal.</summary>
    public static TheoryData<string, string, bool, string, string, bool, string> Table => new()
    {
        { "0.0.0.0", "tcp", false, "v4", "auto", true, "nat:10.88.0.2" },
        { "0.0.0.0", "tcp", false, "v4", "nat", true, "nat:10.88.0.2" },
        { "0.0.0.0", "tcp", false, "v4", "proxy", true, "proxy:10.88.0.2" },
        { "0.0.0.0", "tcp", false, "v4", "auto", false, "proxy:10.88.0.2" },
        { "0.0.0.0", "tcp", false, "v4", "nat", false, "refuse:NAT cannot carry this binding: nftables is unavailable; use --mode auto or proxy" },
        { "127.0.0.1", "tcp", false, "v4", "auto", true, "proxy:10.88.0.2" }, // no route_localnet in auto
        { "127.0.0.5", "udp", false, "v4", "auto", true, "proxy:10.88.0.2" },
        { "127.0.0.1", "tcp", false, "v4", "nat", true, "nat:10.88.0.2" },
        { "127.0.0.1", "sctp", false, "v4", "auto", true, "nat:10.88.0.2" }, // only NAT carries SCTP
        { "::", "tcp", true, "v4", "auto", true, "proxy:10.88.0.2" },
        { "::", "tcp", true, "v4", "nat", true, "skip" },
        { "::", "tcp", false, "v4", "nat", true, "refuse:NAT cannot carry this binding: the target has no IPv6 address; use --mode auto or proxy" },
        { "::", "tcp", true, "dual", "auto", true, "nat:fd00::2" },
        { "::", "tcp", true, "dual", "nat", true, "nat:fd00::2" },
        { "::1", "tcp", false, "dual", "auto", true, "proxy:fd00::2" },
        { "::1", "tcp", false, "dual", "nat", true, "refuse:NAT cannot carry this binding: ::1 cannot be DNAT'ed (the kernel keeps it on lo); use --mode auto or proxy" },
        { "0.0.0.0", "tcp", false, "v4-unrouted", "auto", true, "proxy:10.88.0.2" },
        { "0.0.0.0", "tcp", false, "v4-unrouted", "nat", true, "refuse:NAT cannot carry this binding: the host has no route to the target's 10.88.0.2; use --mode auto or proxy" },
        { "0.0.0.0", "tcp", false, "lo-only", "auto", true, "proxy:127.0.0.1" },
        { "0.0.0.0", "udp", false, "lo-only", "auto", true, "proxy:127.0.0.1" },
        { "0.0.0.0", "tcp", false, "none", "auto", true, "refuse:the target namespace has no address to send traffic to" },
        { "0.0.0.0", "sctp", false, "v4", "auto", true, "nat:10.88.0.2" },
        { "0.0.0.0", "sctp", false, "v4", "proxy", true, "refuse:the userland proxy does not carry SCTP (only NAT does): publish SCTP ports with --mode auto or nat, to a target address the host routes to" },
        { "0.0.0.0", "sctp", false, "lo-only", "auto", true, "refuse:SCTP is carried only by NAT, and NAT cannot carry this binding: the host has no route to the target's 127.0.0.1" },
        { "::", "sctp", true, "v4", "auto", true, "skip" },
        { "::", "sctp", false, "v4", "auto", true, "refuse:SCTP is carried only by NAT, and NAT cannot carry this binding: the target has no IPv6 address" },
        { "::", "udp", true, "v4", "proxy", true, "proxy:10.88.0.2" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Choose(string hostIp, string protocol, bool implied, string target, string mode, bool nat, string expected)
    {
        Assert.True(ProtocolNames.TryParse(protocol, out Protocol proto));
        Assert.True(PublishModeNames.TryParse(mode, out PublishMode m));
        CarrierDecision d = CarrierPolicy.Choose(IPAddress.Parse(hostIp), proto, implied, s_targets[target], m, nat);
        string actual = d.IsSkip ? "skip" : d.IsRefusal ? $"refuse:{d.Error}" : $"{d.Carrier.ToName()}:{d.TargetIp}";
        Assert.Equal(expected, actual);
    }
}
