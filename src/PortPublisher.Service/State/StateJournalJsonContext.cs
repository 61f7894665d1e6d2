using System.Text.Json.Serialization;

namespace PortPublisher.Service.State;

/// <summary>Journal records are one compact line of JSON each (the snapshot is indented for people).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(StateChange))]
internal sealed partial class StateJournalJsonContext : JsonSerializerContext;
