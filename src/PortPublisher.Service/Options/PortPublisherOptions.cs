using System.ComponentModel.DataAnnotations;

namespace PortPublisher.Service.Options;

/// <summary>
/// Service settings, from /etc/portpublisher/portpublisher.json, environment (PORTPUBLISHER__*) and the command line
/// (<c>--socket</c>, <c>--state-dir</c>, <c>--metrics</c>, <c>--mode</c>, <c>--dynamic-ports</c>). Validated at start.
/// </summary>
public sealed class PortPublisherOptions
{
    public const string Section = "PortPublisher";

    /// <summary>The control API's Unix socket.</summary>
    [Required]
    public string Socket { get; set; } = "/run/portpublisher/portpublisher.sock";

    /// <summary>Group that may use the control socket (mode 0660); empty keeps the service's group.</summary>
    public string? SocketGroup { get; set; }

    /// <summary>Where state survives restarts.</summary>
    [Required]
    public string StateDir { get; set; } = "/var/lib/portpublisher";

    /// <summary>Prometheus endpoint, ADDR:PORT; loopback by default; empty disables it.</summary>
    public string Metrics { get; set; } = "127.0.0.1:9469";

    /// <summary>Default carrier: auto (NAT where it can, else proxy), nat or proxy.</summary>
    [RegularExpression("^(auto|nat|proxy)$", ErrorMessage = "mode must be auto, nat or proxy")]
    public string Mode { get; set; } = "auto";

    /// <summary>Dynamic host port range START-END; empty reads the kernel's ip_local_port_range.</summary>
    [RegularExpression(@"^$|^\d{1,5}-\d{1,5}$", ErrorMessage = "dynamic ports must be START-END")]
    public string? DynamicPorts { get; set; }

    /// <summary>Name of the ip/ip6 nftables tables.</summary>
    [RegularExpression("^[a-zA-Z][a-zA-Z0-9_-]{0,30}$", ErrorMessage = "table name must be a short identifier")]
    public string Table { get; set; } = "portpublisher";

    /// <summary>
    /// Proxied TCP connections one binding relays at once. Past it new clients wait in the kernel's backlog until one
    /// closes; the proxy logs it (at most once a minute) and counts it in portpublisher_proxy_errors_total{kind="ConnectionLimit"}.
    /// </summary>
    [Range(1, 1_048_576, ErrorMessage = "max connections must be 1 to 1048576")]
    public int MaxConnections { get; set; } = 4096;

    /// <summary>
    /// Own the nftables tables (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST, Linux 6.9+): while the service runs, no other
    /// tool can change or delete them, so <c>nft flush ruleset</c> or a firewall reload never opens a gap in NAT, the
    /// loopback guard or established connections. They outlive the service and are adopted on restart. False: plain
    /// tables that anyone may flush, rebuilt by the self-repair within milliseconds.
    /// </summary>
    public bool ProtectTables { get; set; } = true;

    /// <summary>Label proxy metrics per host port too (series grow with every published port).</summary>
    public bool MetricsPerBinding { get; set; }
}
