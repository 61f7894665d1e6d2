using System.Text.Json.Serialization;

namespace PortPublisher.Cni.Direct;

/// <summary>Source-generated JSON for the state file (no reflection under NativeAOT).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DirectStateFile))]
internal sealed partial class DirectJsonContext : JsonSerializerContext;
