using System.Collections.Concurrent;

namespace PortPublisher.Bench.Fuzz;

/// <summary>Counts of one target's run, safe to add to from CsCheck's sampling threads; keeps the first input of each failure kind.</summary>
internal sealed class FuzzTally(string target)
{
    private long _cases;
    private long _values;
    private long _rejected;
    private long _failures;

    public string Target { get; } = target;

    public long Cases => Interlocked.Read(ref _cases);

    public long Values => Interlocked.Read(ref _values);

    public long Rejected => Interlocked.Read(ref _rejected);

    public long Failures => Interlocked.Read(ref _failures);

    public TimeSpan Elapsed { get; set; }

    /// <summary>Failure kind → how many, the detail and the input (printed) of its first case.</summary>
    public ConcurrentDictionary<string, (long Count, string Detail, string Input)> FailureKinds { get; } = new();

    /// <summary>Rejection kind (which reader threw the documented exception) → how many.</summary>
    public ConcurrentDictionary<string, long> RejectionKinds { get; } = new();

    public void Add(FuzzResult result, Func<string> input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Interlocked.Increment(ref _cases);
        switch (result.Verdict)
        {
            case FuzzVerdict.Value:
                Interlocked.Increment(ref _values);
                break;
            case FuzzVerdict.Rejected:
                Interlocked.Increment(ref _rejected);
                RejectionKinds.AddOrUpdate(result.Kind, 1, (_, n) => n + 1);
                break;
            default:
                Interlocked.Increment(ref _failures);
                FailureKinds.AddOrUpdate(result.Kind, _ => (1, result.Detail, input()), (_, f) => (f.Count + 1, f.Detail, f.Input));
                break;
        }
    }
}
