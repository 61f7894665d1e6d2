using System.Text.Json;
using System.Text.Json.Serialization;

namespace PortPublisher.Core.Publications;

/// <summary>Lower-case names, no numbers: a request with <c>"mode": 1</c> or <c>"mode": "bogus"</c> is a bad request.</summary>
public sealed class PublishModeJsonConverter() : JsonStringEnumConverter<PublishMode>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false);
