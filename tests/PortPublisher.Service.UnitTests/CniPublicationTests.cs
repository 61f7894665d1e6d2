using System.Net;
using NSubstitute;
using PortPublisher.Core.Api;
using PortPublisher.Core.Publications;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink.Nft;
using PortPublisher.Service.Publications;
using Xunit;

namespace PortPublisher.Service.UnitTests;

/// <summary>
/// A CNI attachment's publication (the plugin's <c>cni</c> marker): NAT only, no port-holding socket and no listener (the
/// runtime holds the ports), and with snat a 127.0.0.1 element per address-less IPv4 binding that <c>port</c> does not list.
/// </summary>
public sealed class CniPublicationTests
{
    private static ValidatedPublish Cni(string name, bool snat, params string[] specs) =>
        PublishValidator.Validate(new PublishRequest(name, "/run/netns/cni-1", specs, PublishMode.Nat, "10.88.0.2", Cni: new CniAttachment("abc", "eth0", "ppnet", snat)));

    [Fact]
    public async Task HoldsNoSocket_StartsNoListener_AndDnatsLocalhostForItsWildcards()
    {
        var p = new Pipeline();
        PublicationDto dto = await p.Publisher.PublishAsync(Cni("cni-abc-eth0", snat: true, "0.0.0.0:8080:80/tcp", "127.0.0.1:8081:80/tcp", "0.0.0.0:5353:53/udp"), CancellationToken.None);

        Assert.Empty(p.Reservations.Handles);
        p.Proxy.DidNotReceiveWithAnyArgs().Start(default!, default!);
        Assert.Equal(3, dto.Bindings.Count);
        Assert.Equal("ppnet", dto.Cni!.Network);
        Assert.Equal(
            new HashSet<NatBinding>
            {
                new(null, Protocol.Tcp, 8080, Pipeline.TargetV4, 80),
                new(IPAddress.Loopback, Protocol.Tcp, 8080, Pipeline.TargetV4, 80),
                new(IPAddress.Loopback, Protocol.Tcp, 8081, Pipeline.TargetV4, 80),
                new(null, Protocol.Udp, 5353, Pipeline.TargetV4, 53),
                new(IPAddress.Loopback, Protocol.Udp, 5353, Pipeline.TargetV4, 53),
            },
            p.NatElements);
        p.Sysctls.Received().SyncLocalnet(Arg.Is<IReadOnlyCollection<IPAddress>>(t => t.Contains(Pipeline.TargetV4)));
        Assert.Equal("abc", p.Saved[^1].Publications.Single().Cni!.ContainerId);

        await p.Publisher.UnpublishAsync("cni-abc-eth0");
        Assert.Empty(p.NatElements);
    }

    [Fact]
    public async Task WithoutSnat_LocalhostIsNotDnatted()
    {
        var p = new Pipeline();
        await p.Publisher.PublishAsync(Cni("cni-abc-eth0", snat: false, "0.0.0.0:8080:80/tcp"), CancellationToken.None);
        Assert.Equal([new NatBinding(null, Protocol.Tcp, 8080, Pipeline.TargetV4, 80)], p.NatElements);
        p.Sysctls.DidNotReceiveWithAnyArgs().SyncLocalnet(default!);
    }

    [Fact]
    public async Task ItsPortsAreTakenForOtherPublications_LocalhostIncluded()
    {
        var p = new Pipeline();
        await p.Publisher.PublishAsync(Cni("cni-abc-eth0", snat: true, "0.0.0.0:8080:80/tcp"), CancellationToken.None);
        PublishException e = await Assert.ThrowsAsync<PublishException>(async () => await p.PublishAsync("web", "127.0.0.1:8080:80"));
        Assert.Equal(HttpStatusCode.Conflict, e.Status);
    }

    [Theory]
    [InlineData(PublishMode.Proxy)]
    [InlineData(PublishMode.Auto)]
    public void IsNatOnly(PublishMode mode)
    {
        PublishException e = Assert.Throws<PublishException>(() => PublishValidator.Validate(new PublishRequest("cni-x-eth0", "/run/netns/x", ["80:80"], mode, Cni: new CniAttachment("x", "eth0"))));
        Assert.Contains("carried by NAT only", e.Message, StringComparison.Ordinal);
        Assert.Equal(PublishMode.Nat, PublishValidator.Validate(new PublishRequest("cni-x-eth0", "/run/netns/x", ["80:80"], Cni: new CniAttachment("x", "eth0"))).Mode);
    }
}
