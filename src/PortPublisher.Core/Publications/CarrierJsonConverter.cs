using System.Text.Json;
using System.Text.Json.Serialization;

namespace PortPublisher.Core.Publications;

/// <summary>Lower-case names, no numbers, as the state file and the API have always written them.</summary>
public sealed class CarrierJsonConverter() : JsonStringEnumConverter<Carrier>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false);
