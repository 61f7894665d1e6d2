using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace PortPublisher.Cni.Spec;

/// <summary>What the plugin reads of the previous result: its interfaces and addresses (the rest is passed on as it came).</summary>
internal sealed record PrevResult(IReadOnlyList<(string Name, string Sandbox)> Interfaces, IReadOnlyList<(IPAddress Address, int? Interface)> Ips)
{
    public static PrevResult Read(JsonElement prev)
    {
        var r = new ConfReader(prev, "prevResult.");
        var interfaces = new List<(string, string)>();
        if (r.Array("interfaces") is JsonElement ifs)
        {
            int i = 0;
            foreach (JsonElement e in ifs.EnumerateArray())
            {
                var x = new ConfReader(Object(e, $"prevResult.interfaces[{i}]"), $"prevResult.interfaces[{i}].");
                interfaces.Add((x.String("name") ?? string.Empty, x.String("sandbox") ?? string.Empty));
                i++;
            }
        }

        var ips = new List<(IPAddress, int?)>();
        if (r.Array("ips") is JsonElement list)
        {
            int i = 0;
            foreach (JsonElement e in list.EnumerateArray())
            {
                string at = $"prevResult.ips[{i}]";
                var x = new ConfReader(Object(e, at), at + ".");
                string cidr = x.String("address") ?? string.Empty;
                if (!IPNetwork.TryParse(cidr, out _) && !IPAddress.TryParse(cidr.Split('/')[0], out _))
                {
                    throw new CniException(CniErrorCode.ErrDecodingFailure, $"decoding failure: {at}.address \"{cidr}\" is not an address with a prefix length");
                }

                ips.Add((IPAddress.Parse(cidr.Split('/')[0]), x.Int("interface")));
                i++;
            }
        }

        return new PrevResult(interfaces, ips);
    }

    /// <summary>
    /// The container's addresses on <paramref name="ifName"/>, as portmap picks them: an address whose
    /// <c>interface</c> index names an interface called <paramref name="ifName"/> with a sandbox (an index out of range
    /// is not held against it; an address with no index is not the container's). The first of each family.
    /// </summary>
    public (IPAddress? V4, IPAddress? V6) ContainerAddresses(string ifName)
    {
        IPAddress? v4 = null, v6 = null;
        foreach ((IPAddress address, int? index) in Ips)
        {
            if (index is not int i)
            {
                continue;
            }

            if (i >= 0 && i < Interfaces.Count && (Interfaces[i].Name != ifName || Interfaces[i].Sandbox.Length == 0))
            {
                continue;
            }

            if (address.AddressFamily == AddressFamily.InterNetwork)
            {
                v4 ??= address;
            }
            else
            {
                v6 ??= address;
            }
        }

        return (v4, v6);
    }

    private static JsonElement Object(JsonElement e, string at) => e.ValueKind == JsonValueKind.Object
        ? e
        : throw new CniException(CniErrorCode.ErrDecodingFailure, $"decoding failure: {at} must be an object, not {NetConf.Kind(e)}");
}
