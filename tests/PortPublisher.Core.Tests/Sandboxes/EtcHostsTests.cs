using PortPublisher.Core.Sandboxes;
using Xunit;

namespace PortPublisher.Core.Tests.Sandboxes;

public class EtcHostsTests
{
    // docker run --network bridge --hostname du --add-host www.du.com:2.2.2.2 busybox cat /etc/hosts, Docker 28 (tabs).
    private const string Seed =
        "127.0.0.1\tlocalhost\n" +
        "::1\tlocalhost ip6-localhost ip6-loopback\n" +
        "fe00::\tip6-localnet\n" +
        "ff00::\tip6-mcastprefix\n" +
        "ff02::1\tip6-allnodes\n" +
        "ff02::2\tip6-allrouters\n" +
        "2.2.2.2\twww.du.com\n" +
        "172.17.0.2\tdu\n";

    [Fact]
    public void TheSeedsHostsFile_IsDocker28sBytes()
    {
        ExtraHost extra = ExtraHost.Parse("www.du.com:2.2.2.2", out _)!;
        Assert.Equal(Seed, EtcHosts.Build(ipv6: true, [extra], "172.17.0.2", "du"));
    }

    [Fact]
    public void WithoutIPv6_OnlyTheIPv4Default_AndAFqdnAddsItsShortName()
    {
        Assert.Equal("127.0.0.1\tlocalhost\n172.17.0.3\tweb.example.com web\n", EtcHosts.Build(ipv6: false, [], "172.17.0.3", "web.example.com"));
    }

    [Fact]
    public void NoOwnAddress_NoOwnLine()
    {
        Assert.Equal(EtcHosts.DefaultIPv4 + EtcHosts.DefaultIPv6, EtcHosts.Build(ipv6: true, [], null, "x"));
    }

    [Theory]
    [InlineData("www.du.com:2.2.2.2", "www.du.com", "2.2.2.2")]
    [InlineData("www.du.com=2.2.2.2", "www.du.com", "2.2.2.2")]
    [InlineData("v6:2001:db8::1", "v6", "2001:db8::1")]
    [InlineData("v6=[2001:db8::1]", "v6", "2001:db8::1")]
    [InlineData("gw:host-gateway", "gw", "host-gateway")]
    public void AddHost_ParsesAsDockerDoes(string value, string host, string ip)
    {
        Assert.Equal(new ExtraHost(host, ip), ExtraHost.Parse(value, out string? error));
        Assert.Null(error);
    }

    [Theory]
    [InlineData("nohost", "invalid argument \"nohost\" for \"--add-host\" flag: bad format for add-host: \"nohost\"")]
    [InlineData(":1.2.3.4", "invalid argument \":1.2.3.4\" for \"--add-host\" flag: bad format for add-host: \":1.2.3.4\"")]
    [InlineData("h:1.2.3", "invalid argument \"h:1.2.3\" for \"--add-host\" flag: invalid IP address in add-host: \"1.2.3\"")]
    public void AddHost_BadValuesGetDockersText(string value, string expected)
    {
        Assert.Null(ExtraHost.Parse(value, out string? error));
        Assert.Equal(expected, error);
    }
}
