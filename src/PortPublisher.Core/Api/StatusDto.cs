namespace PortPublisher.Core.Api;

/// <summary><c>GET /v1/status</c>: what the service runs on and how much it carries.</summary>
public sealed record StatusDto(string Version, string Backend, int Publications, int Bindings, IReadOnlyDictionary<string, string> Sysctls);
