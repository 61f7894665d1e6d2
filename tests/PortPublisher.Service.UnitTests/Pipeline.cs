using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using NSubstitute;
using PortPublisher.Core.Allocation;
using PortPublisher.Core.Api;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink.Nft;
using PortPublisher.Service.Kernel;
using PortPublisher.Service.Options;
using PortPublisher.Service.Publications;
using PortPublisher.Service.State;
using Xunit;

namespace PortPublisher.Service.UnitTests;

/// <summary>
/// A <see cref="Publisher"/> wired to fakes of every kernel seam, recording what reached them: NAT elements added and
/// removed, proxies started and stopped, state saved, reservation handles made and closed.
/// </summary>
internal sealed class Pipeline
{
    public static readonly PortRange Dynamic = new(40000, 40099);
    public static readonly IPAddress TargetV4 = IPAddress.Parse("10.88.0.2");

    public Pipeline(Target? target = null)
    {
        Target = target ?? new Target(TargetV4, null, true, false, "veth-host");
        Namespace = Substitute.For<ITargetNamespace>();
        Namespace.Path.Returns("/run/netns/web");
        Namespace.StillNamed.Returns(true);
        Resolver = Substitute.For<ITargetResolver>();
        Resolver.ResolveAsync(Arg.Any<string>(), Arg.Any<IReadOnlyList<IPAddress>>(), Arg.Any<CancellationToken>())
            .Returns(_ => ValueTask.FromResult(new ResolvedTarget(Namespace, Target)));

        Store = Substitute.For<IStateStore>();
        Store.PathName.Returns("/var/lib/portpublisher/state.json");
        Store.When(s => s.Save(Arg.Any<StateFile>())).Do(c =>
        {
            StateFile state = c.Arg<StateFile>();
            _stored.Clear();
            foreach (StoredPublication sp in state.Publications)
            {
                _stored[sp.Name] = sp;
            }

            Saved.Add(state);
        });

        // A change is saved as the whole state it leads to, so the tests read one list of states either way.
        Store.When(s => s.Commit(Arg.Any<IReadOnlyCollection<StoredPublication>>(), Arg.Any<IReadOnlyCollection<string>>())).Do(c =>
        {
            if (StoreFault is not null)
            {
                throw StoreFault; // a failed commit saves nothing
            }

            foreach (StoredPublication sp in c.Arg<IReadOnlyCollection<StoredPublication>>())
            {
                _stored[sp.Name] = sp;
            }

            foreach (string name in c.Arg<IReadOnlyCollection<string>>())
            {
                _stored.Remove(name);
            }

            Saved.Add(new StateFile(StateFile.CurrentVersion, [.. _stored.Values.OrderBy(x => x.Name, StringComparer.Ordinal)]));
        });

        Nat = Substitute.For<INatBackend>();
        Nat.Available.Returns(true);
        Nat.Adopt().Returns(true);
        Nat.When(n => n.Apply(Arg.Any<IReadOnlyCollection<NatBinding>>(), Arg.Any<IReadOnlyCollection<NatBinding>>())).Do(c =>
        {
            // A transaction is atomic: one that fails changes nothing.
            if (NatAddFault is { } fault && c.ArgAt<IReadOnlyCollection<NatBinding>>(0).Count > 0)
            {
                throw fault;
            }

            foreach (NatBinding b in c.ArgAt<IReadOnlyCollection<NatBinding>>(0))
            {
                Assert.True(NatElements.Add(b), $"{b} added twice");
            }

            foreach (NatBinding b in c.ArgAt<IReadOnlyCollection<NatBinding>>(1))
            {
                NatElements.Remove(b);
            }
        });

        Proxy = Substitute.For<IProxyHost>();
        Proxy.OpenSockets(Arg.Any<ITargetNamespace>()).Returns(_ =>
        {
            IProxySockets s = Substitute.For<IProxySockets>();
            SocketSources.Add(s);
            return s;
        });
        Proxy.Start(Arg.Any<ProxyStart>(), Arg.Any<IProxySockets>()).Returns(c =>
        {
            ProxyStart start = c.Arg<ProxyStart>();
            IProxyLease lease = Substitute.For<IProxyLease>();
            lease.Listen.Returns(start.Listen);
            Listening[lease] = start.Reserved;
            Targets[lease] = (start.Target, start.IPv4ClientsTarget);
            LoopbackOnly[lease] = start.LoopbackOnly;
            return lease;
        });
        Proxy.StopAsync(Arg.Any<IProxyLease>(), Arg.Any<TimeSpan>()).Returns(c =>
        {
            // The proxy owns the socket it was given: stopping closes it.
            Assert.True(Listening.Remove(c.Arg<IProxyLease>(), out SafeSocketHandle? h), "a lease stopped twice or never started");
            h!.Dispose();
            return ValueTask.FromResult(StopConfirms);
        });

        Conntrack = Substitute.For<IConntrack>();
        Sysctls = Substitute.For<IHostSysctls>();
        Registry = new PublicationRegistry(Store);
        Allocator = new PortAllocator(new FixedPortRangeSource(Dynamic));
        Queue = new CommandQueue(NullLogger<CommandQueue>.Instance);
        var reconciler = new NatReconciler(Registry, Nat, Queue, NullLogger<NatReconciler>.Instance);
        Publisher = new Publisher(
            Registry,
            Allocator,
            Resolver,
            Reservations,
            Nat,
            Proxy,
            Conntrack,
            Sysctls,
            reconciler,
            new PipelineDeadlines(),
            Microsoft.Extensions.Options.Options.Create(new PortPublisherOptions()),
            TimeProvider.System,
            NullLogger<Publisher>.Instance);
    }

    public Target Target { get; }

    public ITargetNamespace Namespace { get; }

    public ITargetResolver Resolver { get; }

    public IStateStore Store { get; }

    public List<StateFile> Saved { get; } = [];

    /// <summary>Thrown by every commit while set: a full or read-only state directory.</summary>
    public Exception? StoreFault { get; set; }

    private readonly Dictionary<string, StoredPublication> _stored = new(StringComparer.Ordinal);

    public INatBackend Nat { get; }

    public HashSet<NatBinding> NatElements { get; } = [];

    /// <summary>Thrown by a transaction that adds elements.</summary>
    public Exception? NatAddFault { get; set; }

    public IProxyHost Proxy { get; }

    public Dictionary<IProxyLease, SafeSocketHandle> Listening { get; } = [];

    /// <summary>Each listener's target, and where its IPv4 clients go (a dual-stack pair), as started.</summary>
    public Dictionary<IProxyLease, (IPEndPoint Target, IPEndPoint? IPv4Clients)> Targets { get; } = [];

    /// <summary>Whether each listener was started as a NAT'ed one's (only loopback clients reach it).</summary>
    public Dictionary<IProxyLease, bool> LoopbackOnly { get; } = [];

    public List<IProxySockets> SocketSources { get; } = [];

    public bool StopConfirms { get; set; } = true;

    public IConntrack Conntrack { get; }

    public IHostSysctls Sysctls { get; }

    public FakeReservations Reservations { get; } = new();

    public PublicationRegistry Registry { get; }

    public PortAllocator Allocator { get; }

    public CommandQueue Queue { get; }

    public Publisher Publisher { get; }

    public static ValidatedPublish Request(string name, params string[] specs) =>
        PublishValidator.Validate(new PublishRequest(name, "web", specs));

    public ValueTask<PublicationDto> PublishAsync(string name, params string[] specs) =>
        Publisher.PublishAsync(Request(name, specs), CancellationToken.None);

    /// <summary>The next dynamic port the allocator would give 127.0.0.1/tcp; asking changes nothing.</summary>
    public ushort NextDynamicPort()
    {
        AllocatorCheckpoint before = Allocator.Checkpoint();
        IReadOnlyList<HostBinding> b = Allocator.Allocate(BindingExpander.Expand(PortSpecParser.Parse("127.0.0.1::1")));
        Allocator.Release(b);
        Allocator.Rewind(before);
        return b[0].HostPort;
    }

    /// <summary>Nothing of any publication is left anywhere.</summary>
    public void AssertNothingLeft(ushort expectedNextPort, bool namespaceOpened = true)
    {
        Assert.Equal(0, Registry.Count);
        Assert.Empty(Registry.Snapshot);
        if (Saved.Count > 0)
        {
            Assert.Empty(Saved[^1].Publications);
        }

        Assert.Empty(NatElements);
        Assert.Empty(Listening);
        Assert.All(Reservations.Handles, h => Assert.True(h.IsClosed, "a reserved port was never released"));
        Assert.All(SocketSources, s => s.Received(1).Dispose());
        Assert.Equal(0, Allocator.Count);
        Assert.Equal(expectedNextPort, NextDynamicPort());
        Namespace.Received(namespaceOpened ? 1 : 0).Dispose();
    }
}
