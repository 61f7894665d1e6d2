using System.Net;
using System.Runtime.InteropServices;
using NSubstitute;
using NSubstitute.ExceptionExtensions;
using PortPublisher.Core.Api;
using PortPublisher.Core.Publications;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Nft;
using PortPublisher.Service.Kernel;
using PortPublisher.Service.Publications;
using PortPublisher.Service.State;
using Xunit;

namespace PortPublisher.Service.UnitTests;

/// <summary>
/// A fault at each step of a publish leaves nothing behind: no reservation, NAT element, listener or state entry, the
/// allocator's cursor where it was; and the caller's error names the step.
/// </summary>
public sealed class PublishFaultTests
{
    // NAT (0.0.0.0, UDP), the proxy (127.0.0.1 in auto, [::] to an IPv4-only target, implied and explicit), a dynamic port.
    private static readonly string[] s_specs = ["8080:80", "5353:53/udp", "127.0.0.1::81", "[::]:9090:90"];

    public static TheoryData<string> Steps => ["open target", "allocate", "persist", "set sysctls", "program nftables", "flush conntrack", "start proxies"];

    [Theory]
    [MemberData(nameof(Steps))]
    public async Task AFaultAtEachStepLeavesNothingBehind(string step)
    {
        var p = new Pipeline();
        ushort next = p.NextDynamicPort();
        Exception fault = new IOException($"injected at {step}");
        switch (step)
        {
            case "open target":
                p.Resolver.ResolveAsync(Arg.Any<string>(), Arg.Any<IReadOnlyList<IPAddress>>(), Arg.Any<CancellationToken>())
                    .Returns<ValueTask<ResolvedTarget>>(_ => throw new PublishException(HttpStatusCode.NotFound, "network namespace 'web' cannot be opened"));
                break;
            case "allocate":
                p.Reservations.FailOn = 9090;
                break;
            case "persist":
                p.StoreFault = fault;
                break;
            case "set sysctls":
                p.Sysctls.When(s => s.EnsureFor(Arg.Any<Target>())).Do(_ => throw fault);
                break;
            case "program nftables":
                p.NatAddFault = new NetlinkException(12, "injected");
                break;
            case "flush conntrack":
                p.Conntrack.When(c => c.FlushUdp(Arg.Any<IReadOnlyCollection<ushort>>())).Do(_ => throw fault);
                break;
            case "start proxies":
                // The first listener starts; the second fails: the first must be stopped again.
                int started = 0;
                p.Proxy.When(x => x.Start(Arg.Any<ProxyStart>(), Arg.Any<IProxySockets>()))
                    .Do(_ =>
                    {
                        if (++started == 2)
                        {
                            throw fault;
                        }
                    });
                break;
        }

        PublishException e = await Assert.ThrowsAsync<PublishException>(() => p.PublishAsync("web", s_specs).AsTask());

        Assert.Equal(step, e.Step);
        if (e.Status == HttpStatusCode.InternalServerError)
        {
            Assert.StartsWith($"{step}: ", e.Message, StringComparison.Ordinal);
        }

        p.AssertNothingLeft(next, namespaceOpened: step != "open target");
    }

    [Fact]
    public async Task TheFaultFreeRunReachesEverySeamAndUnpublishUndoesIt()
    {
        // The control for the theory above: each faulted step is really on the path.
        var p = new Pipeline();
        ushort next = p.NextDynamicPort();
        PublicationDto dto = await p.PublishAsync("web", s_specs);

        Assert.Equal(6, dto.Bindings.Count);
        Assert.Equal(2, p.NatElements.Count); // 0.0.0.0:8080, 0.0.0.0:5353/udp

        // The pairs 0.0.0.0/[::]:8080 and 0.0.0.0/[::]:5353/udp on one dual-stack socket each (NAT'ed 0.0.0.0 listening for
        // the host's own 127.0.0.1 clients, [::] proxied to the IPv4-only target), [::]:9090 proxied, 127.0.0.1:dynamic
        // proxied in auto.
        Assert.Equal(4, p.Listening.Count);
        Assert.Equal(4, p.Reservations.Handles.Count);
        p.Sysctls.Received(1).EnsureFor(p.Target);
        p.Sysctls.DidNotReceiveWithAnyArgs().SyncLocalnet(default!); // nothing NAT'ed to 127/8: no route_localnet
        p.Conntrack.Received(1).FlushUdp(Arg.Is<IReadOnlyCollection<ushort>>(x => x.SequenceEqual(new ushort[] { 5353 })));
        Assert.Single(Assert.Single(p.Saved).Publications);
        Assert.Equal(next + 1, p.NextDynamicPort());

        await p.Publisher.UnpublishAsync("web");
        Assert.Equal(next + 1, p.NextDynamicPort()); // a successful publish and unpublish move on round-robin, as Docker's do
        Assert.Equal(0, p.Registry.Count);
        Assert.Empty(p.NatElements);
        Assert.Empty(p.Listening);
        Assert.All(p.Reservations.Handles, h => Assert.True(h.IsClosed));
        Assert.Empty(p.Saved[^1].Publications);
        p.Namespace.Received(1).Dispose();
    }

    [Fact]
    public async Task ASpecificAndAWildcardOnOnePort_OnlyTheSpecificListensForV4()
    {
        var p = new Pipeline();
        PublicationDto dto = await p.PublishAsync("web", "127.0.0.1::80", "80");
        Assert.Equal(3, dto.Bindings.Count);
        Assert.Single(dto.Bindings.Select(b => b.HostPort).Distinct()); // one port for the group, as Docker gives it

        // 127.0.0.1 (proxied in auto) and [::] listen; the NAT'ed 0.0.0.0 stands aside instead of failing with EADDRINUSE.
        Assert.Equal(2, p.Listening.Count);
        Assert.Single(p.NatElements);
    }

    [Fact]
    public async Task AWildcardPairSharesOneSocketAndOneListenerThatSendsEachFamilyToItsTarget()
    {
        var p = new Pipeline(new Target(Pipeline.TargetV4, IPAddress.Parse("fd00::2"), true, true, "veth-host"));
        PublicationDto dto = await p.PublishAsync("web", "8080:80");

        Assert.Equal(["0.0.0.0", "::"], dto.Bindings.Select(b => b.HostIp));
        Assert.Equal(2, p.NatElements.Count);
        SafeHandle socket = Assert.Single(p.Reservations.Handles);
        (IProxyLease lease, SafeHandle listening) = Assert.Single(p.Listening);
        Assert.Same(socket, listening);
        Assert.Equal((new IPEndPoint(IPAddress.Parse("fd00::2"), 80), new IPEndPoint(Pipeline.TargetV4, 80)), p.Targets[lease]);
        Assert.True(p.LoopbackOnly[lease]); // both halves NAT'ed: only the host's loopback clients reach the listener

        await p.Publisher.UnpublishAsync("web");
        Assert.Empty(p.Listening); // one lease, stopped once
        Assert.True(socket.IsClosed);
    }

    [Fact]
    public async Task WithoutDualStackAWildcardPairTakesTwoSocketsAndTwoListeners()
    {
        var p = new Pipeline();
        p.Reservations.DualStack = false;
        await p.PublishAsync("web", "8080:80");

        Assert.Equal(2, p.Reservations.Handles.Count);
        Assert.Equal(2, p.Listening.Count);
        Assert.All(p.Targets.Values, t => Assert.Null(t.IPv4Clients));
        Assert.Equal([false, true], p.LoopbackOnly.Values.Order()); // [::] is proxied to the IPv4-only target; 0.0.0.0 is NAT'ed
    }

    [Fact]
    public async Task ARangeOnBothFamiliesTakesOneSocketPerPort()
    {
        var p = new Pipeline();
        PublicationDto dto = await p.PublishAsync("range", "20000-20999:20000-20999");

        Assert.Equal(2000, dto.Bindings.Count);
        Assert.Equal(1000, p.Reservations.Handles.Count);
        Assert.Equal(1000, p.Listening.Count);
    }

    [Fact]
    public async Task NatTo127NeedsRouteLocalnetOnlyWhileItIsPublished()
    {
        var p = new Pipeline();
        await p.Publisher.PublishAsync(PublishValidator.Validate(new PublishRequest("web", "web", ["127.0.0.1:8080:80"], PublishMode.Nat)), CancellationToken.None);
        Assert.Single(p.NatElements);
        p.Sysctls.Received(1).SyncLocalnet(Arg.Is<IReadOnlyCollection<System.Net.IPAddress>>(t => t.SequenceEqual(new[] { p.Target.V4 })));

        await p.Publisher.UnpublishAsync("web");
        p.Sysctls.Received(1).SyncLocalnet(Arg.Is<IReadOnlyCollection<System.Net.IPAddress>>(t => t.Count == 0));
    }

    [Fact]
    public async Task AFailedNatTo127PublishTurnsRouteLocalnetBackOff()
    {
        var p = new Pipeline();
        p.NatAddFault = new NetlinkException(1, "injected");
        await Assert.ThrowsAsync<PublishException>(() => p.Publisher.PublishAsync(PublishValidator.Validate(new PublishRequest("web", "web", ["127.0.0.1:8080:80"], PublishMode.Nat)), CancellationToken.None).AsTask());
        Received.InOrder(() =>
        {
            p.Sysctls.SyncLocalnet(Arg.Is<IReadOnlyCollection<System.Net.IPAddress>>(t => t.Count == 1));
            p.Sysctls.SyncLocalnet(Arg.Is<IReadOnlyCollection<System.Net.IPAddress>>(t => t.Count == 0));
        });
    }

    [Fact]
    public async Task DryRunsLeaveTheCursorWhereItWas()
    {
        var p = new Pipeline();
        for (int i = 0; i < 3; i++)
        {
            PublicationDto plan = await p.Publisher.PublishAsync(PublishValidator.Validate(new PublishRequest("web", "web", ["127.0.0.2::80"], DryRun: true)), CancellationToken.None);
            Assert.Equal(Pipeline.Dynamic.Start, plan.Bindings[0].HostPort);
        }

        Assert.Empty(p.Saved);
        p.Nat.DidNotReceiveWithAnyArgs().Apply(default!, default!);
        PublicationDto real = await p.PublishAsync("web", "127.0.0.2::80");
        Assert.Equal(Pipeline.Dynamic.Start, real.Bindings[0].HostPort);
    }

    [Fact]
    public async Task AFailedPublishLeavesTheCursorWhereItWas()
    {
        var p = new Pipeline();
        p.NatAddFault = new NetlinkException(1, "injected");
        await Assert.ThrowsAsync<PublishException>(() => p.Publisher.PublishAsync(PublishValidator.Validate(new PublishRequest("first", "web", ["127.0.0.2::80"], PublishMode.Nat)), CancellationToken.None).AsTask());
        p.NatAddFault = null;
        Assert.Equal(Pipeline.Dynamic.Start, (await p.PublishAsync("second", "127.0.0.2::80")).Bindings[0].HostPort);
    }

    [Fact]
    public async Task UnpublishThatCannotPersistChangesNothing()
    {
        var p = new Pipeline();
        await p.PublishAsync("web", s_specs);
        int nat = p.NatElements.Count, listening = p.Listening.Count;
        p.StoreFault = new IOException("No space left on device");

        PublishException e = await Assert.ThrowsAsync<PublishException>(() => p.Publisher.UnpublishAsync("web").AsTask());

        Assert.Equal(HttpStatusCode.InsufficientStorage, e.Status);
        Assert.Contains("No space left on device", e.Message, StringComparison.Ordinal);
        Assert.Contains("nothing was changed", e.Message, StringComparison.Ordinal);
        Assert.True(p.Registry.Contains("web"));
        Assert.Equal(nat, p.NatElements.Count);
        Assert.Equal(listening, p.Listening.Count);
        p.Namespace.DidNotReceive().Dispose();
    }

    [Fact]
    public async Task AProxyThatDoesNotConfirmItsStopDoesNotStopTheUnpublish()
    {
        var p = new Pipeline { StopConfirms = false };
        await p.PublishAsync("web", "[::]:9090:90");
        PublicationDto gone = await p.Publisher.UnpublishAsync("web");
        Assert.Equal("web", gone.Name);
        Assert.Equal(0, p.Registry.Count);
        Assert.Empty(p.Listening);
        Assert.All(p.Reservations.Handles, h => Assert.True(h.IsClosed));
    }

    [Fact]
    public async Task NatModeSkipsTheImpliedV6BindingForAnIPv4OnlyTargetAndSaysSo()
    {
        var p = new Pipeline();
        PublicationDto dto = await p.Publisher.PublishAsync(PublishValidator.Validate(new PublishRequest("web", "web", ["8080:80"], PublishMode.Nat)), CancellationToken.None);
        Assert.Equal("0.0.0.0", Assert.Single(dto.Bindings).HostIp);
        Assert.Equal([CarrierPolicy.SkippedV6Warning], dto.Warnings);
        Assert.Single(p.Listening); // 0.0.0.0:8080 itself, for the host's own 127.0.0.1 clients (never DNAT'ed)

        PublishException e = await Assert.ThrowsAsync<PublishException>(() => p.Publisher.PublishAsync(PublishValidator.Validate(new PublishRequest("v6", "web", ["[::]:8181:80"], PublishMode.Nat)), CancellationToken.None).AsTask());
        Assert.Equal("[::]:8181->80/tcp: NAT cannot carry this binding: the target has no IPv6 address; use --mode auto or proxy", e.Message);
    }

    [Fact]
    public async Task APublishedNameIsAConflictAndChangesNothing()
    {
        var p = new Pipeline();
        await p.PublishAsync("web", "8080:80");
        int saves = p.Saved.Count;
        PublishException e = await Assert.ThrowsAsync<PublishException>(() => p.PublishAsync("web", "8081:80").AsTask());
        Assert.Equal(HttpStatusCode.Conflict, e.Status);
        Assert.Equal("Conflict. The publication name \"web\" is already in use. Unpublish it first or choose another name.", e.Message);
        Assert.Equal(saves, p.Saved.Count);
    }
}
