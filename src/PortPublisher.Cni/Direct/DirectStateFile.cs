namespace PortPublisher.Cni.Direct;

/// <summary>
/// The direct mode's state file (<c>STATE_DIR/state.json</c>): every attachment it published, and the links whose
/// route_localnet it turned on (only those it may turn off again; one someone else had set is never listed).
/// </summary>
internal sealed record DirectStateFile(int Version, IReadOnlyList<StoredAttachment> Attachments, IReadOnlyList<string> Localnet)
{
    public const int CurrentVersion = 1;

    public static DirectStateFile Empty { get; } = new(CurrentVersion, [], []);
}
