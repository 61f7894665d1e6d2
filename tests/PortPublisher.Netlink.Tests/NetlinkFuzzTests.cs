using CsCheck;
using PortPublisher.Bench.Fuzz;
using Xunit;

namespace PortPublisher.Netlink.Tests;

/// <summary>
/// `bench fuzz netlink` at CI size: the same target, seeds and generators (compiled in from bench/), 5,000 cases.
/// The long runs and their counts are in bench/README.md; this keeps the property from regressing between them.
/// </summary>
public class NetlinkFuzzTests
{
    [Fact]
    public void Seeds_AreWellFormedAndReachEveryReader()
    {
        var target = new NetlinkFuzzTarget(NetlinkSeeds.Build());
        foreach (byte[] seed in target.Seeds)
        {
            FuzzResult r = target.Run(seed);
            Assert.True(r.Verdict == FuzzVerdict.Value, $"{Convert.ToHexString(seed)}: {r.Kind}\n{r.Detail}");
        }

        // Mutations start from messages every reader understands, so they are read deep, not refused at the header.
        NetlinkReach reach = target.Reach;
        Assert.True(reach.BindingsRead >= 5, reach.ToString());
        Assert.All(new[] { reach.ChainsRead, reach.CommentsRead, reach.EventsDecoded, reach.LinksRead, reach.AddressesRead, reach.RoutesRead, reach.ConntrackEntriesRead, reach.ErrorsParsed }, n => Assert.True(n > 0, reach.ToString()));
    }

    [Fact]
    public async Task Readers_OnGeneratedAndMutatedDatagrams_ReturnOrThrowOnlyNetlinkProtocolException()
    {
        var target = new NetlinkFuzzTarget(NetlinkSeeds.Build());

        // On a pool thread under a deadline: a reader that loops forever fails the test instead of hanging the run.
        await Task.Run(() => target.Inputs.Sample(
            datagram =>
            {
                FuzzResult r = target.Run(datagram);
                Assert.True(r.Verdict != FuzzVerdict.Failure, $"{r.Kind}\n{r.Detail}");
            },
            iter: 5_000,
            threads: 1,
            print: Convert.ToHexString)).WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);

        Assert.True(target.Reach.MessagesWalked > 5_000, target.Reach.ToString());
    }
}
