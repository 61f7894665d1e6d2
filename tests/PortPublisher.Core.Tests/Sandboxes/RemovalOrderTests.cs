using PortPublisher.Core.Sandboxes;
using Xunit;

namespace PortPublisher.Core.Tests.Sandboxes;

public class RemovalOrderTests
{
    private static SandboxDto S(string name, string network = "bridge") => new(name, new string('a', 64), network, "h", null, null, null);

    [Fact]
    public void JoinersGoFirst_HoweverDeepTheChain_OthersKeepTheirOrder()
    {
        SandboxDto[] all = [S("a"), S("b", "container:a"), S("c", "container:b"), S("x", "none")];
        Assert.Equal(["c", "b", "a", "x"], RemovalOrder.Of(all, ["a", "b", "x", "c", "a"]));
    }

    [Fact]
    public void ACycleInADamagedListEnds()
    {
        SandboxDto[] all = [S("a", "container:b"), S("b", "container:a")];
        Assert.Equal(2, RemovalOrder.Of(all, ["a", "b"]).Count());
    }
}
