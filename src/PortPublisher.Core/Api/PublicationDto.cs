namespace PortPublisher.Core.Api;

/// <summary>A publication as the API shows it; bindings in Docker's allocation order.</summary>
public sealed record PublicationDto(string Name, string Netns, IReadOnlyList<BindingDto> Bindings, string? TargetIp = null, IReadOnlyList<string>? Warnings = null);
