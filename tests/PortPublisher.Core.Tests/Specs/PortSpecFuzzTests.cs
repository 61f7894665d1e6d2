using CsCheck;
using PortPublisher.Bench.Fuzz;
using Xunit;

namespace PortPublisher.Core.Tests.Specs;

/// <summary>
/// `bench fuzz spec` at CI size: the same target (compiled in from bench/) over mutated corpus values, grammar pieces
/// and arbitrary strings, 5,000 cases. The long runs and their counts are in bench/README.md.
/// </summary>
public class PortSpecFuzzTests
{
    [Fact]
    public async Task Parse_OnMutatedCorpusAndGeneratedSpecs_ParsesSanelyOrThrowsPortSpecException()
    {
        var target = new PortSpecFuzzTarget(PortSpecFuzzTarget.ReadCorpus(Path.Combine(AppContext.BaseDirectory, "TestData", "portspec-docker-28.2.tsv")));
        long parsed = 0;

        // Under a deadline: a parse that never returns fails the test instead of hanging the run.
        await Task.Run(() => target.Inputs.Sample(
            spec =>
            {
                FuzzResult r = target.Run(spec);
                Assert.True(r.Verdict != FuzzVerdict.Failure, $"{r.Kind}: {r.Detail}");
                if (r.Verdict == FuzzVerdict.Value)
                {
                    Interlocked.Increment(ref parsed);
                }
            },
            iter: 5_000,
            threads: 1,
            print: PortPublisher.Core.Specs.GoNet.Quote)).WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);

        // Both sides of the property were exercised: parses (which were round-tripped) and Docker's refusals.
        Assert.True(parsed >= 100, $"{parsed} of 5,000 parsed");
        Assert.True(target.Errors.Count >= 6, string.Join(", ", target.Errors.Keys));
    }
}
