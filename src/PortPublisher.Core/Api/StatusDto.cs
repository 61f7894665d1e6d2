namespace PortPublisher.Core.Api;

/// <summary><c>GET /v1/status</c>: what the service runs on and how much it carries.</summary>
/// <param name="Version">The service's informational version (<c>1.0.0+commit</c>).</param>
/// <param name="Backend">What carries bindings: nftables and the proxy, or the proxy alone.</param>
/// <param name="Publications">Active publications.</param>
/// <param name="Bindings">Their bindings.</param>
/// <param name="Sysctls">The sysctls NAT depends on, as they are now.</param>
/// <param name="Mode">The default carrier mode (<c>--mode</c>).</param>
/// <param name="Table">The name of its ip/ip6 nftables tables (<c>--table</c>).</param>
/// <param name="StateDir">Its state directory (<c>--state-dir</c>).</param>
/// <param name="Socket">Its control socket (<c>--socket</c>).</param>
/// <param name="OpenFileLimit">Its RLIMIT_NOFILE (one descriptor holds each published port).</param>
public sealed record StatusDto(
    string Version,
    string Backend,
    int Publications,
    int Bindings,
    IReadOnlyDictionary<string, string> Sysctls,
    string? Mode = null,
    string? Table = null,
    string? StateDir = null,
    string? Socket = null,
    long? OpenFileLimit = null);
