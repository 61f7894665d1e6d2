using System.Text.Json;
using System.Text.Json.Serialization;

namespace PortPublisher.Core.Publications;

/// <summary>
/// Exactly <c>auto</c>, <c>nat</c> or <c>proxy</c>: the built-in enum converter also takes <c>"NAT"</c>, <c>" nat"</c>,
/// numbers and flag lists (<c>"auto,nat"</c> became nat), none of which a user meant.
/// </summary>
public sealed class PublishModeJsonConverter : JsonConverter<PublishMode>
{
    public override PublishMode Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string? text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        return PublishModeNames.TryParse(text, out PublishMode mode)
            ? mode
            : throw new JsonException($"invalid mode {(text is null ? reader.TokenType.ToString().ToLowerInvariant() : $"\"{text}\"")}: use auto, nat or proxy");
    }

    public override void Write(Utf8JsonWriter writer, PublishMode value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(value.ToName());
    }
}
