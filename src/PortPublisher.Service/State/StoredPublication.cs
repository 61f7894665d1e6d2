namespace PortPublisher.Service.State;

/// <summary>
/// A publication as persisted. <see cref="NetnsPath"/> with <see cref="NetnsDevice"/>/<see cref="NetnsInode"/> identify the
/// namespace: a namespace recreated under the same name is a different one and must not inherit the ports.
/// </summary>
public sealed record StoredPublication(
    string Name,
    string Netns,
    string? NetnsPath,
    ulong NetnsDevice,
    ulong NetnsInode,
    IReadOnlyList<string> Specs,
    IReadOnlyList<StoredBinding> Bindings,
    IReadOnlyList<string>? Warnings = null,
    Core.Api.CniAttachment? Cni = null);
