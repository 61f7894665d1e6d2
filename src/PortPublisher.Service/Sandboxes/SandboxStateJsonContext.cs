using System.Text.Json.Serialization;

namespace PortPublisher.Service.Sandboxes;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = true)]
[JsonSerializable(typeof(SandboxStateFile))]
internal sealed partial class SandboxStateJsonContext : JsonSerializerContext;
