using PortPublisher.Core.Sandboxes;

namespace PortPublisher.Service.Sandboxes;

/// <summary>STATE_DIR/sandboxes.json: every sandbox as <c>inspect</c> shows it (its publication lives in state.json).</summary>
internal sealed record SandboxStateFile(int Version, List<SandboxDto> Sandboxes)
{
    public const int CurrentVersion = 1;
}
