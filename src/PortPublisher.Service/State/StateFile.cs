namespace PortPublisher.Service.State;

/// <summary>The whole state file.</summary>
public sealed record StateFile(int Version, IReadOnlyList<StoredPublication> Publications)
{
    public const int CurrentVersion = 1;
}
