using System.Text.Json.Serialization;

namespace PortPublisher.Core.Sandboxes;

/// <summary>Source-generated JSON for the sandbox routes, with the control API's conventions (camelCase, nulls left out).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SandboxCreateRequest))]
[JsonSerializable(typeof(SandboxDto))]
[JsonSerializable(typeof(List<SandboxDto>))]
public sealed partial class SandboxJsonContext : JsonSerializerContext;
