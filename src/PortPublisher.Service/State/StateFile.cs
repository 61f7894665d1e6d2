namespace PortPublisher.Service.State;

/// <summary>The whole state file.</summary>
public sealed record StateFile(int Version, IReadOnlyList<StoredPublication> Publications)
{
    /// <summary>2: bindings may be runs (<see cref="StoredBinding.Count"/>), which a version-1 service would misread.</summary>
    public const int CurrentVersion = 2;

    /// <summary>Version 1 is version 2 without runs: read as it is.</summary>
    public static bool CanRead(int version) => version is 1 or CurrentVersion;
}
