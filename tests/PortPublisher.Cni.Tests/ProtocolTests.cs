using System.Text.Json;
using Xunit;
using static PortPublisher.Cni.Tests.Harness;

namespace PortPublisher.Cni.Tests;

/// <summary>
/// The CNI protocol through the stdin/env harness, in process and without root: what a runtime sends and what it must
/// get back (codes, messages, the result passed through). Nothing here reaches a backend unless said.
/// </summary>
public sealed class ProtocolTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ppcni-proto-").FullName;

    /// <summary>Options that keep a test off the host: a socket nobody listens on, a state directory of its own.</summary>
    private string Isolated => $"\"socket\":\"{_dir}/none.sock\",\"stateDir\":\"{_dir}/state\"";

    [Theory]
    [InlineData("0.4.0")]
    [InlineData("1.0.0")]
    [InlineData("1.1.0")]
    public async Task Version_ListsSupportedVersionsAndEchoesTheConfigs(string version)
    {
        Outcome r = await RunAsync(new Dictionary<string, string> { ["CNI_COMMAND"] = "VERSION" }, $"{{\"cniVersion\":\"{version}\"}}");
        Assert.Equal(0, r.Code);
        Assert.Equal(version, r.Json.GetProperty("cniVersion").GetString());
        Assert.Equal(["0.4.0", "1.0.0", "1.1.0"], r.Json.GetProperty("supportedVersions").EnumerateArray().Select(v => v.GetString()));
    }

    [Fact]
    public async Task Version_NeedsNothingElse()
    {
        Outcome r = await RunAsync(new Dictionary<string, string> { ["CNI_COMMAND"] = "VERSION" }, string.Empty);
        Assert.Equal(0, r.Code);
        Assert.Equal("1.1.0", r.Json.GetProperty("cniVersion").GetString());
    }

    [Fact]
    public async Task NoCommand_SaysWhatItIsOnStderrAndExitsZero()
    {
        Outcome r = await RunAsync(new Dictionary<string, string>(), string.Empty);
        Assert.Equal(0, r.Code);
        Assert.Empty(r.Stdout);
        Assert.Contains("CNI protocol versions supported: 0.4.0, 1.0.0, 1.1.0", r.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ADD", "CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_PATH")]
    [InlineData("CHECK", "CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_PATH")]
    [InlineData("DEL", "CNI_CONTAINERID CNI_IFNAME CNI_PATH")]
    [InlineData("GC", "CNI_PATH")]
    [InlineData("STATUS", "CNI_PATH")]
    public async Task MissingEnvironment_IsCode4NamingEachVariable(string command, string missing)
    {
        Outcome r = await RunAsync(new Dictionary<string, string> { ["CNI_COMMAND"] = command }, Conf());
        Assert.Equal(1, r.Code);
        Assert.Equal(4, r.ErrorCode);
        Assert.Equal($"required env variables [{missing}] missing", r.Message);
    }

    [Theory]
    [InlineData("CNI_COMMAND", "FROB", "unknown CNI_COMMAND: FROB")]
    [InlineData("CNI_CONTAINERID", "-abc", "invalid characters in containerID")]
    [InlineData("CNI_CONTAINERID", "a b", "invalid characters in containerID")]
    [InlineData("CNI_IFNAME", "averyveryverylongname", "interface name is too long")]
    [InlineData("CNI_IFNAME", "eth/0", "interface name contains / or : or whitespace characters")]
    [InlineData("CNI_IFNAME", "..", "interface name is . or ..")]
    public async Task BadEnvironment_IsCode4(string variable, string value, string message)
    {
        Dictionary<string, string> env = Env("DEL");
        env[variable] = value;
        Outcome r = await RunAsync(env, Conf());
        Assert.Equal(4, r.ErrorCode);
        Assert.Equal(message, r.Message);
    }

    [Theory]
    [InlineData("{\"cniVersion\":", 6, "decoding failure: the network configuration on stdin is not valid JSON")]
    [InlineData("[1,2]", 6, "decoding failure: the network configuration must be a JSON object, not an array")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":\"80\"}]}}", 6, "decoding failure: runtimeConfig.portMappings[0].hostPort must be a number, not a string")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"snat\":\"yes\"}", 6, "decoding failure: snat must be a boolean, not a string")]
    [InlineData("{\"cniVersion\":\"1.0.0\"}", 7, "missing network name")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"a b\"}", 7, "invalid characters found in network name")]
    [InlineData("{\"cniVersion\":\"0.3.1\",\"name\":\"n\"}", 1, "incompatible CNI versions")]
    [InlineData("{\"name\":\"n\"}", 1, "incompatible CNI versions")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"masqAll\":true}", 2, "unsupported field masqAll")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"conditionsV4\":[\"-s\",\"1.2.3.4\"]}", 2, "unsupported field conditionsV4")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"externalSetMarkChain\":\"KUBE-MARK-MASQ\"}", 2, "unsupported field externalSetMarkChain")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"markMasqBit\":32}", 7, "invalid markMasqBit 32: MasqMarkBit must be between 0 and 31")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mode\":\"fast\"}", 7, "invalid mode \"fast\": use auto, service or direct")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"socket\":\"relative.sock\"}", 7, "invalid socket \"relative.sock\": an absolute path is required")]
    [InlineData("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"table\":\"portpublisher\"}", 7, "invalid table \"portpublisher\"")]
    public async Task BadConfiguration_IsRefusedWithTheSpecsCode(string stdin, int code, string message)
    {
        Outcome r = await RunAsync(Env("DEL"), stdin);
        Assert.Equal(1, r.Code);
        Assert.Equal(code, r.ErrorCode);
        Assert.StartsWith(message, r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Error_CarriesTheConfigsVersionAndGoesToStdout()
    {
        Outcome r = await RunAsync(Env("DEL"), "{\"cniVersion\":\"0.4.0\",\"name\":\"n\",\"markMasqBit\":-1}");
        Assert.Equal("0.4.0", r.Json.GetProperty("cniVersion").GetString());
        Assert.Equal(7, r.ErrorCode);
        Assert.Contains("error: DEL failed: code 7", r.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GC")]
    [InlineData("STATUS")]
    public async Task GcAndStatus_NeedVersion110(string command)
    {
        Outcome r = await RunAsync(Env(command), Conf(version: "1.0.0", extra: Isolated));
        Assert.Equal(1, r.ErrorCode);
        Assert.Contains("needs a configuration of cniVersion 1.1.0", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Add_WithoutPrevResult_MustBeChained()
    {
        Outcome r = await RunAsync(Env("ADD", "/proc/self/ns/net"), Conf(mappings: Map(8080, 80), addresses: null, extra: Isolated));
        Assert.Equal(7, r.ErrorCode);
        Assert.StartsWith("must be called as chained plugin", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Add_IntoItsOwnNamespace_IsCode8()
    {
        Outcome r = await RunAsync(Env("ADD", "/proc/self/ns/net"), Conf(mappings: Map(8080, 80), extra: Isolated));
        Assert.Equal(8, r.ErrorCode);
        Assert.Contains("is the plugin's own network namespace", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Add_IntoANamespaceThatIsNot_IsCode8()
    {
        Outcome r = await RunAsync(Env("ADD", $"{_dir}/nothing"), Conf(mappings: Map(8080, 80), extra: Isolated));
        Assert.Equal(8, r.ErrorCode);
        Assert.StartsWith($"failed to open netns \"{_dir}/nothing\"", r.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.4.0")]
    [InlineData("1.0.0")]
    [InlineData("1.1.0")]
    public async Task Add_WithoutMappings_PassesPrevResultThroughByteForByte(string version)
    {
        string prev = PrevResult(version, ["10.99.0.2/24", "fd00:99::2/64"]);
        string conf = $"{{\"cniVersion\":\"{version}\",\"name\":\"ppnet\",\"type\":\"portpublisher-cni\",\"prevResult\":{prev},{Isolated}}}";
        Dictionary<string, string> env = Env("ADD", "/proc/self/ns/net");
        env["CNI_NETNS_OVERRIDE"] = "1";
        Outcome r = await RunAsync(env, conf);
        Assert.Equal(0, r.Code);
        Assert.Equal(prev + "\n", r.Stdout);
        Assert.False(Directory.Exists($"{_dir}/state"), "an ADD without mappings touches nothing");
    }

    [Theory]
    [InlineData("{\"hostPort\":0,\"containerPort\":80,\"protocol\":\"tcp\"}", "invalid hostPort 0 in runtimeConfig.portMappings[0]: 1 to 65535")]
    [InlineData("{\"hostPort\":65536,\"containerPort\":80,\"protocol\":\"tcp\"}", "invalid hostPort 65536 in runtimeConfig.portMappings[0]: 1 to 65535")]
    [InlineData("{\"hostPort\":80,\"containerPort\":-1,\"protocol\":\"tcp\"}", "invalid containerPort -1 in runtimeConfig.portMappings[0]: 1 to 65535")]
    [InlineData("{\"hostPort\":80,\"containerPort\":80,\"protocol\":\"icmp\"}", "unsupported protocol \"icmp\" in runtimeConfig.portMappings[0]: tcp, udp or sctp")]
    [InlineData("{\"hostPort\":80,\"containerPort\":80}", "unsupported protocol \"\" in runtimeConfig.portMappings[0]: tcp, udp or sctp")]
    [InlineData("{\"hostPort\":80,\"containerPort\":80,\"protocol\":\"tcp\",\"hostIP\":\"1.2.3\"}", "invalid hostIP \"1.2.3\" in runtimeConfig.portMappings[0]: an IPv4 or IPv6 address")]
    [InlineData("{\"hostPort\":80,\"containerPort\":80,\"protocol\":\"tcp\",\"hostIP\":\"::1\"}", "hostIP ::1 in runtimeConfig.portMappings[0] cannot be published by NAT")]
    [InlineData("{\"hostPort\":80,\"containerPort\":80,\"protocol\":\"tcp\"},{\"hostPort\":80,\"containerPort\":81,\"protocol\":\"TCP\"}", "runtimeConfig.portMappings[1]: host port 0.0.0.0:80/tcp is mapped twice, to container ports 80 and 81")]
    public async Task Add_BadMapping_IsCode7AndTouchesNothing(string mappings, string message)
    {
        Dictionary<string, string> env = Env("ADD", "/proc/self/ns/net");
        env["CNI_NETNS_OVERRIDE"] = "1";
        Outcome r = await RunAsync(env, Conf(mappings: mappings, extra: Isolated));
        Assert.Equal(7, r.ErrorCode);
        Assert.StartsWith(message, r.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists($"{_dir}/state"));
    }

    [Fact]
    public async Task Add_WithoutAnAddressOnItsInterface_IsCode7()
    {
        Dictionary<string, string> env = Env("ADD", "/proc/self/ns/net", ifName: "eth1");
        env["CNI_NETNS_OVERRIDE"] = "1";
        Outcome r = await RunAsync(env, Conf(mappings: Map(8080, 80), extra: Isolated));
        Assert.Equal(7, r.ErrorCode);
        Assert.Equal("prevResult has no address on interface eth1 inside the sandbox, so the port mappings have nowhere to go", r.Message);
    }

    [Fact]
    public async Task Del_OfAnAttachmentNobodyHas_SucceedsWithNoNetnsAndNoPrevResult()
    {
        Outcome r = await RunAsync(Env("DEL"), $"{{\"cniVersion\":\"1.0.0\",\"name\":\"ppnet\",{Isolated}}}");
        Assert.Equal(0, r.Code);
        Assert.Empty(r.Stdout);
        Assert.False(Directory.Exists($"{_dir}/state"), "DEL creates nothing");

        Outcome again = await RunAsync(Env("DEL"), $"{{\"cniVersion\":\"1.0.0\",\"name\":\"ppnet\",{Isolated}}}");
        Assert.Equal(0, again.Code);
    }

    [Fact]
    public async Task Mode_Service_WithNoService_IsNotAvailable()
    {
        Outcome r = await RunAsync(Env("STATUS"), Conf(version: "1.1.0", extra: $"{Isolated},\"mode\":\"service\""));
        Assert.Equal(50, r.ErrorCode);
        Assert.Contains("is not running (no such socket), and mode is service", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gc_WithoutValidAttachments_IsRefused()
    {
        Outcome r = await RunAsync(Env("GC"), Conf(version: "1.1.0", extra: Isolated));
        Assert.Equal(7, r.ErrorCode);
    }

    [Fact]
    public async Task PortmapBackendOption_IsIgnoredAndSaidSo()
    {
        Outcome r = await RunAsync(Env("DEL"), $"{{\"cniVersion\":\"1.0.0\",\"name\":\"ppnet\",\"backend\":\"iptables\",{Isolated}}}");
        Assert.Equal(0, r.Code);
        Assert.Contains("option ignored: backend \"iptables\"", r.Stderr, StringComparison.Ordinal);
    }

    internal static string Map(int host, int container, string protocol = "tcp", string hostIp = "") =>
        JsonSerializer.Serialize(new Dictionary<string, object> { ["hostPort"] = host, ["containerPort"] = container, ["protocol"] = protocol, ["hostIP"] = hostIp });

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
