namespace PortPublisher.Service.Sandboxes;

/// <summary>
/// Where sandboxes live (section <c>PortPublisher:Sandbox</c>; <c>--host-mount-namespace</c> on the command line). The
/// paths are those of <c>ip netns</c>, so its tools see every sandbox.
/// </summary>
public sealed class SandboxOptions
{
    public const string Section = "PortPublisher:Sandbox";

    /// <summary>
    /// A mount namespace file (e.g. /proc/1/ns/mnt) in which the namespace files, UTS pins and /etc/netns files are made,
    /// so they are visible there; "self": the service's own; "auto" (the default): PID 1's when the service runs in a
    /// mount namespace of its own, as under systemd's mount sandbox, else its own.
    /// </summary>
    public string? HostMountNamespace { get; set; } = MountNamespaceRunner.Auto;

    /// <summary>The service's bridge (Docker's docker0).</summary>
    public string Bridge { get; set; } = "pp0";

    /// <summary>
    /// The nftables table (family ip) that masquerades the bridge's outbound traffic; default portpublisher-sandbox for
    /// pp0 and portpublisher-sandbox-BRIDGE for another bridge, so that two services on two bridges never share it.
    /// </summary>
    public string? MasqueradeTable { get; set; }

    /// <summary>The table in use: <see cref="MasqueradeTable"/> or the default for <see cref="Bridge"/>.</summary>
    public string MasqueradeTableName => !string.IsNullOrEmpty(MasqueradeTable) ? MasqueradeTable
        : Bridge == "pp0" ? Netlink.Nft.SandboxMasquerade.DefaultTable : $"{Netlink.Nft.SandboxMasquerade.DefaultTable}-{Bridge}";

    /// <summary>Where <c>ip netns add</c> puts namespace files.</summary>
    public string NetnsDir { get; set; } = Netlink.NetworkNamespace.NetnsRunDir;

    /// <summary>Where <c>ip netns exec</c> finds the files it bind-mounts over /etc.</summary>
    public string EtcNetnsDir { get; set; } = "/etc/netns";

    /// <summary>Where the UTS namespaces that give sandboxes their hostnames are pinned.</summary>
    public string UtsDir { get; set; } = "/run/portpublisher/uts";
}
