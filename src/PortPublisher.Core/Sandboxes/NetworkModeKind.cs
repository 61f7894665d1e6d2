namespace PortPublisher.Core.Sandboxes;

/// <summary>What a sandbox's network is: see <see cref="NetworkMode"/>.</summary>
public enum NetworkModeKind
{
    Bridge,
    None,
    Host,
    Container,
}
