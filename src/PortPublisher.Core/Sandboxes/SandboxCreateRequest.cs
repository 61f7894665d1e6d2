namespace PortPublisher.Core.Sandboxes;

/// <summary><c>POST /v1/sandboxes</c>: the flags of <c>portpublisher sandbox create</c>, as typed; null lists are empty.</summary>
/// <param name="Name">An <c>ip netns</c> name.</param>
/// <param name="Network"><c>bridge</c> (null: the default), <c>none</c>, <c>host</c> or <c>container:OTHER</c>.</param>
/// <param name="Hostname">Null: the first 12 characters of the generated ID.</param>
/// <param name="Dns"><c>--dns</c> values (replace the host's nameservers).</param>
/// <param name="DnsSearch"><c>--dns-search</c> values.</param>
/// <param name="DnsOptions"><c>--dns-option</c> values.</param>
/// <param name="AddHosts"><c>--add-host HOST:IP</c> values.</param>
/// <param name="Ip">Bridge only: the address to take instead of the first free one.</param>
/// <param name="Specs"><c>-p</c> values, published as <c>publish NAME --netns NAME</c> does.</param>
public sealed record SandboxCreateRequest(
    string Name,
    string? Network = null,
    string? Hostname = null,
    IReadOnlyList<string>? Dns = null,
    IReadOnlyList<string>? DnsSearch = null,
    IReadOnlyList<string>? DnsOptions = null,
    IReadOnlyList<string>? AddHosts = null,
    string? Ip = null,
    IReadOnlyList<string>? Specs = null);
