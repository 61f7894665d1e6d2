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
    /// so they are visible there; empty: the service's own. A service under systemd's mount sandbox needs the host's.
    /// </summary>
    public string? HostMountNamespace { get; set; }

    /// <summary>The service's bridge (Docker's docker0).</summary>
    public string Bridge { get; set; } = "pp0";

    /// <summary>The nftables table (family ip) that masquerades the bridge's outbound traffic.</summary>
    public string MasqueradeTable { get; set; } = Netlink.Nft.SandboxMasquerade.DefaultTable;

    /// <summary>Where <c>ip netns add</c> puts namespace files.</summary>
    public string NetnsDir { get; set; } = Netlink.NetworkNamespace.NetnsRunDir;

    /// <summary>Where <c>ip netns exec</c> finds the files it bind-mounts over /etc.</summary>
    public string EtcNetnsDir { get; set; } = "/etc/netns";

    /// <summary>Where the UTS namespaces that give sandboxes their hostnames are pinned.</summary>
    public string UtsDir { get; set; } = "/run/portpublisher/uts";
}
