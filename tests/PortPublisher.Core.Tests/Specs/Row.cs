using System.Text.Json.Serialization;

namespace PortPublisher.Core.Tests.Specs;

internal sealed record Row(
    [property: JsonPropertyName("port")] string Port,
    [property: JsonPropertyName("hostIp")] string HostIp,
    [property: JsonPropertyName("hostPort")] string HostPort);

[JsonSerializable(typeof(List<Row>))]
internal sealed partial class RowContext : JsonSerializerContext;
