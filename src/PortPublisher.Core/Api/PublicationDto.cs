namespace PortPublisher.Core.Api;

/// <summary>A publication as the API shows it; bindings in Docker's allocation order.</summary>
/// <remarks><see cref="Cni"/> is set for a CNI attachment's publication (the plugin's GC and CHECK read it).</remarks>
/// <remarks><see cref="TargetIps"/> lists every target address its bindings use, IPv4 first (a dual-stack target has two); <see cref="TargetIp"/> is the first binding's.</remarks>
public sealed record PublicationDto(string Name, string Netns, IReadOnlyList<BindingDto> Bindings, string? TargetIp = null, IReadOnlyList<string>? Warnings = null, CniAttachment? Cni = null, IReadOnlyList<string>? TargetIps = null);
