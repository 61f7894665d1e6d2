using System.Diagnostics;
using CsCheck;

namespace PortPublisher.Bench.Fuzz;

/// <summary>Samples a target's generator under a budget and tallies every case; a failure does not stop the run (CsCheck would shrink and stop).</summary>
internal static class FuzzRunner
{
    public static FuzzTally Run<T>(string target, Gen<T> inputs, Func<T, FuzzResult> run, Func<T, string> print, FuzzBudget budget)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(budget);
        var tally = new FuzzTally(target);
        using var hangs = new HangWatch(target, budget.HangMs);
        var clock = Stopwatch.StartNew();
        inputs.Sample(
            input =>
            {
                hangs.Enter(() => print(input));
                FuzzResult result;
                try
                {
                    result = run(input);
                }
                finally
                {
                    hangs.Leave();
                }

                tally.Add(result, () => print(input));
            },
            writeLine: _ => { },
            iter: budget.Seconds > 0 ? -1 : budget.Cases,
            time: budget.Seconds > 0 ? budget.Seconds : -1,
            threads: budget.Threads);
        tally.Elapsed = clock.Elapsed;
        return tally;
    }
}
