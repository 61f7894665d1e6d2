using System.Text.Json;

namespace PortPublisher.Cni.Spec;

/// <summary>
/// The plugin's stdin: the runtime's network configuration for this plugin, with the keys it inserts (<c>cniVersion</c>,
/// <c>name</c>, <c>runtimeConfig</c>, <c>prevResult</c>, <c>cni.dev/valid-attachments</c>) and our options. Unknown
/// keys are ignored, as CNI plugins do. <see cref="PrevResult"/> keeps the exact bytes that came in, so ADD passes
/// them on unchanged (fields of older versions, such as 0.4.0's <c>ips[].version</c>, included).
/// </summary>
internal sealed class NetConf
{
    public const string DefaultSocket = Core.Api.ServiceFootprint.DefaultSocket;
    public const string DefaultStateDir = "/run/portpublisher-cni";
    public const string DefaultTable = "portpublisher-cni";

    /// <summary>ct mark bit 12 (0x1000), the service's: portmap's default 13 is kube-proxy's and portmap's packet mark.</summary>
    public const int DefaultMasqBit = 12;

    public required string CniVersion { get; init; }

    public required string Name { get; init; }

    public IReadOnlyList<PortMappingEntry> PortMappings { get; init; } = [];

    /// <summary>The raw <c>prevResult</c> object, or null when there was none.</summary>
    public string? PrevResultJson { get; init; }

    public PrevResult? PrevResult { get; init; }

    /// <summary>The service's control socket.</summary>
    public string Socket { get; init; } = DefaultSocket;

    public PluginMode Mode { get; init; } = PluginMode.Auto;

    /// <summary>Direct mode: its state file and lock.</summary>
    public string StateDir { get; init; } = DefaultStateDir;

    /// <summary>Direct mode: the name of its own <c>ip</c>/<c>ip6</c> tables (never the service's).</summary>
    public string Table { get; init; } = DefaultTable;

    /// <summary>The service's tables, read in direct mode to refuse ports its publications hold.</summary>
    public string ServiceTable { get; init; } = Core.Api.ServiceFootprint.DefaultTable;

    /// <summary>portmap's <c>snat</c> (default true): 127.0.0.1 clients are DNAT'ed (route_localnet) and masqueraded.</summary>
    public bool Snat { get; init; } = true;

    /// <summary>portmap's <c>markMasqBit</c>, here the ct mark bit of hairpin connections in the direct mode's table.</summary>
    public int MarkMasqBit { get; init; } = DefaultMasqBit;

    /// <summary>How long to wait for the service's answer, and for the direct mode's lock.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>GC: the attachments that stay (<c>cni.dev/valid-attachments</c>).</summary>
    public IReadOnlyList<Attachment>? ValidAttachments { get; init; }

    /// <summary>Options portmap has that are accepted and ignored, each with why (logged).</summary>
    public IReadOnlyList<string> Ignored { get; init; } = [];

    /// <exception cref="CniException">6 when it is not JSON or a known key has the wrong type; 7 when a value is invalid; 1 for an unsupported version; 2 for a portmap option we cannot honour.</exception>
    public static NetConf Parse(ReadOnlySpan<byte> stdin)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(stdin.ToArray(), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new CniException(CniErrorCode.ErrDecodingFailure, $"decoding failure: the network configuration on stdin is not valid JSON: {e.Message}");
        }

        using (doc)
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new CniException(CniErrorCode.ErrDecodingFailure, $"decoding failure: the network configuration must be a JSON object, not {Kind(root)}");
            }

            var r = new ConfReader(root);
            string version = r.String("cniVersion") ?? string.Empty;
            if (!Spec.CniVersion.IsSupported(version))
            {
                throw new CniException(CniErrorCode.ErrIncompatibleCNIVersion, "incompatible CNI versions", $"config is \"{version}\", plugin supports [\"{string.Join("\" \"", Spec.CniVersion.Supported)}\"]");
            }

            string name = r.String("name") ?? string.Empty;
            if (name.Length == 0)
            {
                throw new CniException(CniErrorCode.ErrInvalidNetworkConfig, "missing network name");
            }

            if (!Attachment.IsValidContainerId(name))
            {
                throw new CniException(CniErrorCode.ErrInvalidNetworkConfig, "invalid characters found in network name", name);
            }

            var ignored = new List<string>();
            string? backend = r.String("backend");
            if (backend is not null and not "nftables")
            {
                ignored.Add($"backend \"{backend}\": this plugin always programs nftables maps");
            }

            if (r.Bool("masqAll") == true)
            {
                throw Unsupported("masqAll", "the hairpin and loopback masquerade rules are shared by every attachment; masquerading all DNAT'ed traffic (for ipvlan/macvlan) is not offered");
            }

            if (r.String("externalSetMarkChain") is { Length: > 0 })
            {
                throw Unsupported("externalSetMarkChain", "it names an iptables chain; this plugin marks hairpin connections with ct mark in its own nftables table");
            }

            foreach (string key in new[] { "conditionsV4", "conditionsV6" })
            {
                if (r.StringArray(key) is { Count: > 0 })
                {
                    throw Unsupported(key, "the maps and their rules are shared by every attachment and never change at run time, so per-network match conditions have nowhere to go");
                }
            }

            int bit = r.Int("markMasqBit") ?? DefaultMasqBit;
            if (bit is < 0 or > 31)
            {
                throw new CniException(CniErrorCode.ErrInvalidNetworkConfig, $"invalid markMasqBit {bit}: MasqMarkBit must be between 0 and 31");
            }

            string modeText = r.String("mode") ?? "auto";
            PluginMode mode = modeText switch
            {
                "auto" => PluginMode.Auto,
                "service" => PluginMode.Service,
                "direct" => PluginMode.Direct,
                _ => throw new CniException(CniErrorCode.ErrInvalidNetworkConfig, $"invalid mode \"{modeText}\": use auto, service or direct"),
            };

            string socket = r.String("socket") ?? DefaultSocket;
            string stateDir = r.String("stateDir") ?? DefaultStateDir;
            foreach ((string key, string path) in new[] { ("socket", socket), ("stateDir", stateDir) })
            {
                if (!path.StartsWith('/') || path.Contains('\0', StringComparison.Ordinal))
                {
                    throw new CniException(CniErrorCode.ErrInvalidNetworkConfig, $"invalid {key} \"{path}\": an absolute path is required");
                }
            }

            string table = r.String("table") ?? DefaultTable;
            string serviceTable = r.String("serviceTable") ?? Core.Api.ServiceFootprint.DefaultTable;
            foreach ((string key, string t) in new[] { ("table", table), ("serviceTable", serviceTable) })
            {
                if (t.Length is 0 or > 255 || t.Contains('\0', StringComparison.Ordinal))
                {
                    throw new CniException(CniErrorCode.ErrInvalidNetworkConfig, $"invalid {key} \"{t}\": 1 to 255 characters");
                }
            }

            if (table == serviceTable)
            {
                throw new CniException(CniErrorCode.ErrInvalidNetworkConfig, $"invalid table \"{table}\": the direct mode's tables must not be the service's (serviceTable), which the service replaces at start");
            }

            double timeout = r.Number("timeoutSeconds") ?? 10;
            if (!(timeout > 0 && timeout <= 300))
            {
                throw new CniException(CniErrorCode.ErrInvalidNetworkConfig, $"invalid timeoutSeconds {timeout}: more than 0, at most 300");
            }

            IReadOnlyList<PortMappingEntry> mappings = [];
            if (r.Object("runtimeConfig") is JsonElement runtimeConfig)
            {
                mappings = ReadPortMappings(new ConfReader(runtimeConfig, "runtimeConfig."));
            }

            string? prevJson = null;
            PrevResult? prev = null;
            if (r.Object("prevResult") is JsonElement prevElement)
            {
                prevJson = prevElement.GetRawText();
                prev = PrevResult.Read(prevElement);
            }

            IReadOnlyList<Attachment>? valid = ReadAttachments(r, "cni.dev/valid-attachments") ?? ReadAttachments(r, "cni.dev/attachments");

            return new NetConf
            {
                CniVersion = version,
                Name = name,
                PortMappings = mappings,
                PrevResultJson = prevJson,
                PrevResult = prev,
                Socket = socket,
                Mode = mode,
                StateDir = stateDir,
                Table = table,
                ServiceTable = serviceTable,
                Snat = r.Bool("snat") ?? true,
                MarkMasqBit = bit,
                Timeout = TimeSpan.FromSeconds(timeout),
                ValidAttachments = valid,
                Ignored = ignored,
            };
        }
    }

    private static List<PortMappingEntry> ReadPortMappings(ConfReader runtimeConfig)
    {
        var result = new List<PortMappingEntry>();
        if (runtimeConfig.Array("portMappings") is not JsonElement array)
        {
            return result;
        }

        int i = 0;
        foreach (JsonElement e in array.EnumerateArray())
        {
            string at = $"runtimeConfig.portMappings[{i++}]";
            if (e.ValueKind != JsonValueKind.Object)
            {
                throw new CniException(CniErrorCode.ErrDecodingFailure, $"decoding failure: {at} must be an object, not {Kind(e)}");
            }

            var m = new ConfReader(e, at + ".");
            result.Add(new PortMappingEntry(m.Int("hostPort") ?? 0, m.Int("containerPort") ?? 0, m.String("protocol") ?? string.Empty, m.String("hostIP") ?? string.Empty));
        }

        return result;
    }

    private static List<Attachment>? ReadAttachments(ConfReader r, string key)
    {
        if (r.Array(key) is not JsonElement array)
        {
            return null;
        }

        var result = new List<Attachment>();
        int i = 0;
        foreach (JsonElement e in array.EnumerateArray())
        {
            string at = $"{key}[{i++}]";
            if (e.ValueKind != JsonValueKind.Object)
            {
                throw new CniException(CniErrorCode.ErrDecodingFailure, $"decoding failure: {at} must be an object, not {Kind(e)}");
            }

            var a = new ConfReader(e, at + ".");
            result.Add(new Attachment(a.String("containerID") ?? string.Empty, a.String("ifname") ?? string.Empty));
        }

        return result;
    }

    private static CniException Unsupported(string key, string why) =>
        new(CniErrorCode.ErrUnsupportedField, $"unsupported field {key}: {why}", key);

    internal static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => e.ValueKind.ToString(),
    };
}
