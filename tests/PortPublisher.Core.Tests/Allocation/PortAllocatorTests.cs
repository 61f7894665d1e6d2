using System.Net;
using PortPublisher.Core.Allocation;
using PortPublisher.Core.DockerPort;
using PortPublisher.Core.Specs;
using Xunit;

namespace PortPublisher.Core.Tests.Allocation;

public class PortAllocatorTests
{
    private static readonly PortRange s_kernelDefault = new(32768, 60999);

    private static IReadOnlyList<BindingRequest> Requests(params string[] specs) =>
        BindingExpander.Expand(PortSpecParser.ParseAll(specs));

    private static string Show(IEnumerable<HostBinding> bindings) => string.Join(" ", bindings);

    [Fact]
    public void Allocate_DynamicGivesTheSamePortOnBothFamilies()
    {
        var allocator = new PortAllocator(new FixedPortRangeSource(s_kernelDefault));
        IReadOnlyList<HostBinding> b = allocator.Allocate(Requests("80"));
        Assert.Equal("0.0.0.0:32768->80/tcp [::]:32768->80/tcp", Show(b));
        Assert.Equal("80/tcp -> 0.0.0.0:32768\n80/tcp -> [::]:32768\n", DockerPortFormatter.Format("web", DockerPortFormatter.ToPortMap(b), null).Stdout);
    }

    [Fact]
    public void Allocate_DynamicIsRoundRobinNotLowestFree()
    {
        var allocator = new PortAllocator(new FixedPortRangeSource(s_kernelDefault));
        IReadOnlyList<HostBinding> first = allocator.Allocate(Requests("80"));
        allocator.Release(first);
        Assert.Equal("0.0.0.0:32769->80/tcp [::]:32769->80/tcp", Show(allocator.Allocate(Requests("80"))));
    }

    [Fact]
    public void Allocate_HostRangeRoundTripsLikeDockersUpstreamTest()
    {
        // integration-cli: three `-p 9090-9092:80` get 9090, 9091, 9092; a fourth fails; a new round starts at 9090.
        var allocator = new PortAllocator(new FixedPortRangeSource(s_kernelDefault));
        var held = new List<IReadOnlyList<HostBinding>>();
        foreach (ushort expected in new ushort[] { 9090, 9091, 9092 })
        {
            IReadOnlyList<HostBinding> b = allocator.Allocate(Requests("9090-9092:80"));
            Assert.All(b, x => Assert.Equal(expected, x.HostPort));
            held.Add(b);
        }

        PortAllocationException e = Assert.Throws<PortAllocationException>(() => allocator.Allocate(Requests("9090-9092:80")));
        Assert.Equal("all ports are allocated", e.Message);

        held.ForEach(allocator.Release);
        Assert.Equal(9090, allocator.Allocate(Requests("9090-9092:80"))[0].HostPort);
    }

    [Theory]
    [InlineData("8080:80", "8080:81", "Bind for 0.0.0.0:8080 failed: port is already allocated")]
    [InlineData("0.0.0.0:8080:80", "127.0.0.1:8080:80", "Bind for 127.0.0.1:8080 failed: port is already allocated")]
    [InlineData("127.0.0.1:8080:80", "8080:80", "Bind for 0.0.0.0:8080 failed: port is already allocated")]
    [InlineData("[::1]:8080:80", "8080:80", "Bind for :::8080 failed: port is already allocated")]
    [InlineData("127.0.0.1:53:53/udp", "0.0.0.0:53:53/udp", "Bind for 0.0.0.0:53 failed: port is already allocated")]
    public void Allocate_ConflictsUseDockersText(string first, string second, string message)
    {
        var allocator = new PortAllocator(new FixedPortRangeSource(s_kernelDefault));
        allocator.Allocate(Requests(first));
        PortAllocationException e = Assert.Throws<PortAllocationException>(() => allocator.Allocate(Requests(second)));
        Assert.Equal(message, e.Message);
    }

    [Theory]
    [InlineData("0.0.0.0:8080:80", "[::]:8080:80")]
    [InlineData("8080:80", "8080:80/udp")]
    [InlineData("8080:80/udp", "8080:80/sctp")]
    [InlineData("127.0.0.1:8080:80", "127.0.0.2:8080:80")]
    public void Allocate_DoesNotConflictAcrossFamiliesProtocolsOrDistinctAddresses(string first, string second)
    {
        var allocator = new PortAllocator(new FixedPortRangeSource(s_kernelDefault));
        allocator.Allocate(Requests(first));
        Assert.NotEmpty(allocator.Allocate(Requests(second)));
    }

    [Fact]
    public void Allocate_HostRangePicksFirstPortFreeOnEveryAddress()
    {
        var allocator = new PortAllocator(new FixedPortRangeSource(s_kernelDefault));
        allocator.Allocate(Requests("[::]:8000:1"));
        allocator.Allocate(Requests("0.0.0.0:8001:1"));
        Assert.Equal("0.0.0.0:8002->80/tcp [::]:8002->80/tcp", Show(allocator.Allocate(Requests("8000-8010:80"))));
    }

    [Fact]
    public void Allocate_DynamicSkipsReservedPorts()
    {
        var allocator = new PortAllocator(new FixedPortRangeSource(new PortRange(40000, 40010), [40000, 40001]));
        Assert.Equal(40002, allocator.Allocate(Requests("127.0.0.1::80"))[0].HostPort);
    }

    [Fact]
    public void Allocate_ExhaustedDynamicRange()
    {
        var allocator = new PortAllocator(new FixedPortRangeSource(new PortRange(40000, 40001)));
        allocator.Allocate(Requests("80", "81"));
        Assert.Equal("all ports are allocated", Assert.Throws<PortAllocationException>(() => allocator.Allocate(Requests("82"))).Message);
    }

    [Fact]
    public void Allocate_BatchIsAllOrNothing()
    {
        var allocator = new PortAllocator(new FixedPortRangeSource(s_kernelDefault));
        allocator.Allocate(Requests("9000:1"));
        int before = allocator.Count;

        // 80 (dynamic) and 8081 would succeed; 9000 conflicts. Exact ports are taken first, so order the conflict last.
        Assert.Throws<PortAllocationException>(() => allocator.Allocate(Requests("8081:2", "80", "9000:3")));
        Assert.Equal(before, allocator.Count);
        Assert.False(allocator.IsAllocated(IPAddress.Any, Protocol.Tcp, 8081));

        // The dynamic cursor was restored too: the next dynamic pick is the range start, as if nothing happened.
        Assert.Equal(32768, allocator.Allocate(Requests("80"))[0].HostPort);
    }

    [Fact]
    public void Rewind_PutsTheCursorBackAfterADroppedAllocation()
    {
        // A dry run, or a publish that fails after allocating (say, in nftables), is dropped whole: released and rewound.
        var allocator = new PortAllocator(new FixedPortRangeSource(s_kernelDefault));
        allocator.Allocate(Requests("127.0.0.2::80"));
        for (int i = 0; i < 3; i++)
        {
            AllocatorCheckpoint checkpoint = allocator.Checkpoint();
            IReadOnlyList<HostBinding> planned = allocator.Allocate(Requests("127.0.0.2::80"));
            Assert.Equal(32769, planned[0].HostPort);
            allocator.Release(planned);
            allocator.Rewind(checkpoint);
        }

        Assert.Equal(32769, allocator.Allocate(Requests("127.0.0.2::80"))[0].HostPort);
    }

    [Fact]
    public void Release_WithoutRewindMovesOnAsDockerDoes()
    {
        // The control for the test above: without a rewind the cursor stays on the released port.
        var allocator = new PortAllocator(new FixedPortRangeSource(s_kernelDefault));
        allocator.Release(allocator.Allocate(Requests("127.0.0.2::80")));
        Assert.Equal(32769, allocator.Allocate(Requests("127.0.0.2::80"))[0].HostPort);
    }

    [Fact]
    public void Allocate_OrdersExactPortsFirstThenContainerPortAsDockerDoes()
    {
        var allocator = new PortAllocator(new FixedPortRangeSource(s_kernelDefault));
        IReadOnlyList<HostBinding> b = allocator.Allocate(Requests("90", "8080:81/udp", "8080:81", "[::1]:7000:70"));
        Assert.Equal(
            "[::1]:7000->70/tcp 0.0.0.0:8080->81/tcp [::]:8080->81/tcp 0.0.0.0:8080->81/udp [::]:8080->81/udp 0.0.0.0:32768->90/tcp [::]:32768->90/tcp",
            Show(b));
    }

    [Fact]
    public void Expand_HonoursFamiliesAndUnmapsIPv4MappedAddresses()
    {
        Assert.Equal(
            ["127.0.0.1 8080", "0.0.0.0 0", "::1 0"],
            BindingExpander.Expand(PortSpecParser.ParseAll(["::ffff:127.0.0.1:8080:80", "0.0.0.0::81", "[::1]::82"])).Select(r => $"{r.HostIp} {r.HostPorts}"));
        Assert.Single(BindingExpander.Expand(PortSpecParser.Parse("80"), hostSupportsIPv6: false));
        Assert.Single(BindingExpander.Expand(PortSpecParser.Parse("80"), defaultHostIp: IPAddress.Loopback));
        Assert.Throws<PortAllocationException>(() => BindingExpander.Expand(PortSpecParser.Parse("[::1]::80"), hostSupportsIPv6: false));
    }

    [Fact]
    public void Allocate_ZeroHostPortIsDynamic()
    {
        var allocator = new PortAllocator(new FixedPortRangeSource(s_kernelDefault));
        Assert.Equal(32768, allocator.Allocate(Requests("0:80"))[0].HostPort);
    }

    [Fact]
    public void Allocate_RetriesTheNextPortWhenTheKernelRefusesARangePort()
    {
        var allocator = new PortAllocator(new FixedPortRangeSource(s_kernelDefault));
        var reserver = new BusyPorts(8000, 8001);
        IReadOnlyList<HostBinding> b = allocator.Allocate(Requests("127.0.0.1:8000-8010:80"), reserver);
        Assert.Equal(8002, b[0].HostPort);
        Assert.Equal([8000, 8001, 8002], reserver.Tried);
        Assert.False(allocator.IsAllocated(IPAddress.Loopback, Protocol.Tcp, 8000));
    }

    [Fact]
    public void Allocate_GivesUpAfterTenKernelRefusalsWithTheLastError()
    {
        var allocator = new PortAllocator(new FixedPortRangeSource(s_kernelDefault));
        var reserver = new BusyPorts([.. Enumerable.Range(8000, 10).Select(p => (ushort)p)]);
        PortAllocationException e = Assert.Throws<PortAllocationException>(() => allocator.Allocate(Requests("127.0.0.1:8000-8020:80"), reserver));
        Assert.Equal("busy 8009", e.Message);
        Assert.Equal(0, allocator.Count);
    }

    [Fact]
    public void Allocate_ExactPortRefusedByTheKernelIsNotRetriedAndEarlierGroupsAreUnreserved()
    {
        var allocator = new PortAllocator(new FixedPortRangeSource(s_kernelDefault));
        var reserver = new BusyPorts(8080);
        PortAllocationException e = Assert.Throws<PortAllocationException>(() => allocator.Allocate(Requests("7070:70", "8080:80"), reserver));
        Assert.Equal("busy 8080", e.Message);
        Assert.Equal([7070, 8080], reserver.Tried);
        Assert.Empty(reserver.Held);
        Assert.Equal(0, allocator.Count);
    }

    [Fact]
    public void Restore_MarksPortsAndRefusesConflicts()
    {
        var allocator = new PortAllocator(new FixedPortRangeSource(s_kernelDefault));
        allocator.Restore([new HostBinding(IPAddress.Any, 32768, Protocol.Tcp, 80)]);
        Assert.Equal(32769, allocator.Allocate(Requests("81"))[0].HostPort);
        Assert.Throws<PortAllocationException>(() => allocator.Restore([new HostBinding(IPAddress.Loopback, 40000, Protocol.Tcp, 1), new HostBinding(IPAddress.Loopback, 32768, Protocol.Tcp, 80)]));
        Assert.False(allocator.IsAllocated(IPAddress.Loopback, Protocol.Tcp, 40000));
    }

    private sealed class BusyPorts(params ushort[] busy) : IHostPortReserver
    {
        public List<ushort> Tried { get; } = [];

        public HashSet<ushort> Held { get; } = [];

        public void Reserve(IReadOnlyList<HostBinding> group, bool exactPort)
        {
            ushort port = group[0].HostPort;
            Tried.Add(port);
            if (busy.Contains(port))
            {
                throw new PortAllocationException($"busy {port}");
            }

            Held.Add(port);
        }

        public void Unreserve(IReadOnlyList<HostBinding> group) => Held.Remove(group[0].HostPort);
    }
}
