using System.Text.Json.Nodes;

namespace PortPublisher.Netlink.Tests.Kernel;

/// <summary>Normalises <c>nft -j list ruleset</c>: handles and metainfo removed, elements sorted, objects in a stable order.</summary>
internal static class NftJson
{
    public static List<string> Normalize(string json)
    {
        JsonArray items = JsonNode.Parse(json)!["nftables"]!.AsArray();
        var result = new List<string>();
        foreach (JsonNode? item in items)
        {
            if (item is JsonObject o && !o.ContainsKey("metainfo"))
            {
                Strip(o);
                result.Add(o.ToJsonString());
            }
        }

        result.Sort(StringComparer.Ordinal);
        return result;
    }

    private static void Strip(JsonNode node)
    {
        if (node is JsonObject o)
        {
            o.Remove("handle");
            foreach (KeyValuePair<string, JsonNode?> kv in o.ToList())
            {
                if (kv.Key == "elem" && kv.Value is JsonArray elems)
                {
                    var sorted = elems.Select(e => e!.ToJsonString()).Order(StringComparer.Ordinal).ToList();
                    o["elem"] = new JsonArray([.. sorted.Select(s => JsonNode.Parse(s))]);
                }
                else if (kv.Value is not null)
                {
                    Strip(kv.Value);
                }
            }
        }
        else if (node is JsonArray a)
        {
            foreach (JsonNode? child in a)
            {
                if (child is not null)
                {
                    Strip(child);
                }
            }
        }
    }
}
