using System.Text.Json;

namespace PortPublisher.Cni.Spec;

/// <summary>
/// Typed reads of one JSON object's keys: absent or null is null; a value of the wrong type is a decoding failure (6)
/// that names the key with its path, as Go's decoder would refuse it.
/// </summary>
internal readonly struct ConfReader(JsonElement obj, string prefix = "")
{
    public string? String(string key) => Get(key, JsonValueKind.String, "a string") is JsonElement e ? e.GetString() : null;

    public bool? Bool(string key)
    {
        if (!obj.TryGetProperty(key, out JsonElement e) || e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Wrong(key, "a boolean", e),
        };
    }

    /// <summary>A whole number that fits an int.</summary>
    public int? Int(string key)
    {
        if (Get(key, JsonValueKind.Number, "a number") is not JsonElement e)
        {
            return null;
        }

        return e.TryGetInt32(out int v) ? v : throw new CniException(CniErrorCode.ErrDecodingFailure, $"decoding failure: {prefix}{key} must be a whole number, not {e.GetRawText()}");
    }

    public double? Number(string key) => Get(key, JsonValueKind.Number, "a number") is JsonElement e ? e.GetDouble() : null;

    public JsonElement? Object(string key) => Get(key, JsonValueKind.Object, "an object");

    public JsonElement? Array(string key) => Get(key, JsonValueKind.Array, "an array");

    public IReadOnlyList<string>? StringArray(string key)
    {
        if (Array(key) is not JsonElement a)
        {
            return null;
        }

        var list = new List<string>();
        int i = 0;
        foreach (JsonElement e in a.EnumerateArray())
        {
            list.Add(e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Wrong($"{key}[{i}]", "a string", e));
            i++;
        }

        return list;
    }

    private JsonElement? Get(string key, JsonValueKind kind, string what)
    {
        if (!obj.TryGetProperty(key, out JsonElement e) || e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return e.ValueKind == kind ? e : throw Wrong(key, what, e);
    }

    private CniException Wrong(string key, string what, JsonElement e) =>
        new(CniErrorCode.ErrDecodingFailure, $"decoding failure: {prefix}{key} must be {what}, not {NetConf.Kind(e)}");
}
