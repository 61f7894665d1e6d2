namespace PortPublisher.Core.Publications;

/// <summary>The wire names of <see cref="PublishMode"/> and <see cref="Carrier"/>, for text outside JSON (options, logs, messages).</summary>
public static class PublishModeNames
{
    public static string ToName(this PublishMode mode) => mode switch
    {
        PublishMode.Auto => "auto",
        PublishMode.Nat => "nat",
        PublishMode.Proxy => "proxy",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };

    public static string ToName(this Carrier carrier) => carrier == Carrier.Nat ? "nat" : "proxy";

    /// <summary>Parses <c>auto</c>, <c>nat</c> or <c>proxy</c> (exact, lower case).</summary>
    public static bool TryParse(string? text, out PublishMode mode)
    {
        (bool ok, mode) = text switch
        {
            "auto" => (true, PublishMode.Auto),
            "nat" => (true, PublishMode.Nat),
            "proxy" => (true, PublishMode.Proxy),
            _ => (false, PublishMode.Auto),
        };
        return ok;
    }
}
