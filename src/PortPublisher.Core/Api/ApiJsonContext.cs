using System.Text.Json.Serialization;

namespace PortPublisher.Core.Api;

/// <summary>Source-generated JSON for the control API: camelCase, nulls left out, no reflection (trim- and AOT-safe).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(PublishRequest))]
[JsonSerializable(typeof(PublicationDto))]
[JsonSerializable(typeof(List<PublicationDto>))]
[JsonSerializable(typeof(ErrorDto))]
[JsonSerializable(typeof(StatusDto))]
public sealed partial class ApiJsonContext : JsonSerializerContext;
