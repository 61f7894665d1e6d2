using System.Net;
using PortPublisher.Core.Sandboxes;
using Xunit;

namespace PortPublisher.Core.Tests.Sandboxes;

public class IpamTests
{
    private static readonly IPNetwork s_docker0 = new(IPAddress.Parse("172.17.0.0"), 16);

    [Fact]
    public void FirstAvailable_ReusesAFreedAddress()
    {
        Assert.Equal(IPAddress.Parse("172.17.0.1"), Ipam.Gateway(s_docker0));
        Assert.Equal(IPAddress.Parse("172.17.0.2"), Ipam.FirstFree(s_docker0, []));
        Assert.Equal(IPAddress.Parse("172.17.0.3"), Ipam.FirstFree(s_docker0, [IPAddress.Parse("172.17.0.2")]));

        // .2 was freed while .3 and .4 are in use: .2 again (first-available, not serial).
        Assert.Equal(IPAddress.Parse("172.17.0.2"), Ipam.FirstFree(s_docker0, [IPAddress.Parse("172.17.0.3"), IPAddress.Parse("172.17.0.4")]));
        Assert.Equal(IPAddress.Parse("172.17.1.0"), Ipam.FirstFree(s_docker0, Enumerable.Range(2, 254).Select(i => IPAddress.Parse($"172.17.0.{i}")).Append(IPAddress.Parse("172.17.0.255"))));
    }

    [Fact]
    public void AFullSubnet_HasNoFreeAddress()
    {
        var tiny = new IPNetwork(IPAddress.Parse("10.0.0.0"), 30);
        Assert.Equal(IPAddress.Parse("10.0.0.2"), Ipam.FirstFree(tiny, []));
        Assert.Null(Ipam.FirstFree(tiny, [IPAddress.Parse("10.0.0.2")]));
    }

    [Theory]
    [InlineData("172.17.0.9", null)]
    [InlineData("172.18.0.9", "--ip 172.18.0.9 is not in the bridge's subnet 172.17.0.0/16")]
    [InlineData("172.17.0.1", "--ip 172.17.0.1 is the subnet's gateway address")]
    [InlineData("172.17.0.0", "--ip 172.17.0.0 is the subnet's network address")]
    [InlineData("172.17.255.255", "--ip 172.17.255.255 is the subnet's broadcast address")]
    [InlineData("172.17.0.2", "--ip 172.17.0.2 is already in use by another sandbox")]
    public void RequestedAddresses_AreChecked(string ip, string? error)
    {
        Assert.Equal(error, Ipam.CheckRequested(s_docker0, IPAddress.Parse(ip), [IPAddress.Parse("172.17.0.2")]));
    }

    [Fact]
    public void Subnet_IsTheFirstUnroutedDockerPool()
    {
        Assert.Equal(s_docker0, SubnetPool.Choose([new IPNetwork(IPAddress.Any, 0), new IPNetwork(IPAddress.Parse("10.0.0.0"), 8)]));

        // docker0 holds 172.17/16 and a LAN routes 172.18.5.0/24: the first free is 172.19/16.
        Assert.Equal(new IPNetwork(IPAddress.Parse("172.19.0.0"), 16), SubnetPool.Choose([s_docker0, new IPNetwork(IPAddress.Parse("172.18.5.0"), 24)]));

        // A route covering all of 172.16/12 sends it to 192.168.0.0/20; with everything routed there is none.
        Assert.Equal(new IPNetwork(IPAddress.Parse("192.168.0.0"), 20), SubnetPool.Choose([new IPNetwork(IPAddress.Parse("172.16.0.0"), 12)]));
        Assert.Null(SubnetPool.Choose([new IPNetwork(IPAddress.Parse("172.16.0.0"), 12), new IPNetwork(IPAddress.Parse("192.168.0.0"), 16)]));
    }
}
