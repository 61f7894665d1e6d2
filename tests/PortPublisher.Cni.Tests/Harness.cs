using System.Collections;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace PortPublisher.Cni.Tests;

/// <summary>
/// The stdin/env harness: one verb of the plugin, in this process (protocol tests) or as the built executable inside a
/// namespace (kernel tests), with the CNI_* variables and the configuration on stdin, as a runtime invokes it.
/// </summary>
public static class Harness
{
    public const string ContainerId = "0123456789abcdef";

    /// <summary>The CNI_* variables of a verb, for <paramref name="netns"/> (empty: none) and interface eth0.</summary>
    public static Dictionary<string, string> Env(string command, string netns = "", string containerId = ContainerId, string ifName = "eth0") => new()
    {
        ["CNI_COMMAND"] = command,
        ["CNI_CONTAINERID"] = containerId,
        ["CNI_NETNS"] = netns,
        ["CNI_IFNAME"] = ifName,
        ["CNI_PATH"] = "/usr/lib/cni",
    };

    /// <summary>Runs in this process.</summary>
    public static async Task<Outcome> RunAsync(IDictionary<string, string> env, string stdin)
    {
        using var input = new MemoryStream(Encoding.UTF8.GetBytes(stdin));
        using var output = new MemoryStream();
        using var errors = new StringWriter();
        var plugin = new CniPlugin(TimeProvider.System, new StderrLogger(errors, LogLevel.Debug));
        int code = await plugin.RunAsync(new Hashtable((IDictionary)env), input, output, errors, CancellationToken.None);
        return new Outcome(code, Encoding.UTF8.GetString(output.ToArray()), errors.ToString());
    }

    /// <summary>
    /// A network configuration for the plugin as a runtime hands it over: <paramref name="extra"/> (JSON members
    /// without braces) added to cniVersion, name, type, the port mappings and a prevResult whose eth0 (in a sandbox)
    /// has <paramref name="addresses"/>.
    /// </summary>
    public static string Conf(string mappings = "", string extra = "", string version = "1.0.0", string? addresses = "\"10.99.0.2/24\"", string name = "ppnet", string ifName = "eth0")
    {
        var sb = new StringBuilder();
        sb.Append($"{{\"cniVersion\":\"{version}\",\"name\":\"{name}\",\"type\":\"portpublisher-cni\"");
        if (mappings.Length > 0)
        {
            sb.Append($",\"runtimeConfig\":{{\"portMappings\":[{mappings}]}}");
        }

        if (addresses is not null)
        {
            sb.Append(",\"prevResult\":").Append(PrevResult(version, addresses.Split(',', StringSplitOptions.RemoveEmptyEntries), ifName));
        }

        if (extra.Length > 0)
        {
            sb.Append(',').Append(extra);
        }

        return sb.Append('}').ToString();
    }

    /// <summary>A bridge + host-local result: the bridge, the host veth, eth0 in the sandbox with the addresses.</summary>
    public static string PrevResult(string version, IEnumerable<string> addresses, string ifName = "eth0")
    {
        string ips = string.Join(",", addresses.Select(a =>
        {
            string cidr = a.Trim().Trim('"');
            string v = version == "0.4.0" ? (cidr.Contains(':', StringComparison.Ordinal) ? "\"version\":\"6\"," : "\"version\":\"4\",") : string.Empty;
            return $"{{{v}\"interface\":2,\"address\":\"{cidr}\"}}";
        }));
        return $"{{\"cniVersion\":\"{version}\",\"interfaces\":[{{\"name\":\"cni-pp0\",\"mac\":\"aa:bb:cc:dd:ee:01\"}},{{\"name\":\"veth1234\",\"mac\":\"aa:bb:cc:dd:ee:02\"}},{{\"name\":\"{ifName}\",\"mac\":\"aa:bb:cc:dd:ee:03\",\"sandbox\":\"/run/netns/x\"}}],\"ips\":[{ips}],\"dns\":{{}}}}";
    }

    public sealed record Outcome(int Code, string Stdout, string Stderr)
    {
        /// <summary>The error result's code (stdout must be one).</summary>
        public int ErrorCode => Json.GetProperty("code").GetInt32();

        public string Message => Json.GetProperty("msg").GetString()!;

        public JsonElement Json => JsonDocument.Parse(Stdout).RootElement;

        public override string ToString() => $"exit {Code}\nstdout: {Stdout}\nstderr: {Stderr}";
    }
}
