namespace PortPublisher.Bench.Fuzz;

/// <summary>
/// One case's verdict. <see cref="Kind"/> groups results for the report (an exception's type and the method that
/// threw it, or a broken property's name), <see cref="Detail"/> says what happened in full.
/// </summary>
internal readonly record struct FuzzResult(FuzzVerdict Verdict, string Kind, string Detail)
{
    public static readonly FuzzResult Value = new(FuzzVerdict.Value, string.Empty, string.Empty);

    public static FuzzResult Rejected(string kind) => new(FuzzVerdict.Rejected, kind, string.Empty);

    public static FuzzResult Failure(string kind, string detail) => new(FuzzVerdict.Failure, kind, detail);

    /// <summary>An exception nobody documented: named by its type and the frame that threw it, so one bug is one kind.</summary>
    public static FuzzResult Unexpected(string reader, Exception e)
    {
        ArgumentNullException.ThrowIfNull(e);
        string frame = new System.Diagnostics.StackTrace(e, fNeedFileInfo: false).GetFrame(0)?.GetMethod() is { } m
            ? $"{m.DeclaringType?.Name}.{m.Name}"
            : "?";
        return Failure($"{reader}: {e.GetType().Name} in {frame}", e.ToString());
    }

    /// <summary>The worse of two verdicts (a failure beats a rejection beats a value); the first of equals is kept.</summary>
    public FuzzResult Worst(FuzzResult other) => other.Verdict > Verdict ? other : this;
}
