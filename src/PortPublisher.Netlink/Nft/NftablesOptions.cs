namespace PortPublisher.Netlink.Nft;

/// <summary>How the port-publishing tables are built.</summary>
public sealed record NftablesOptions
{
    /// <summary>Name of the <c>ip</c> and <c>ip6</c> tables.</summary>
    public string TableName { get; init; } = "portpublisher";

    /// <summary>The ct mark bit that flags hairpin connections for masquerade; must not clash with other users of ct mark.</summary>
    public uint HairpinMark { get; init; } = 0x1000;

    /// <summary>Drop packets to 127.0.0.0/8 arriving on any interface but lo (CVE-2020-8558, moby#45610).</summary>
    public bool LoopbackGuard { get; init; } = true;

    /// <summary>
    /// Create the tables owned by our command socket and persistent (<c>NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST</c>,
    /// Linux 6.9+): while the socket is open nobody else can change or delete them (<c>nft flush ruleset</c> skips
    /// them, <c>nft delete table</c> gets EPERM), and they outlive it, for a restarted service to adopt. Kernels without
    /// the flags get plain tables (see <see cref="NftablesBackend.Owns"/>).
    /// </summary>
    public bool Owned { get; init; }

    /// <summary>
    /// The ip output chain leaves 127.0.0.0/8 alone for wildcard bindings, as Docker's OUTPUT rule does with its
    /// userland proxy: local clients of <c>127.0.0.1:PORT</c> reach the binding's listening socket (the service's
    /// proxy) instead of a DNAT that would need route_localnet on the link to the target.
    /// </summary>
    public bool LoopbackByProxy { get; init; }

    /// <summary>Tag every rule with a comment naming its role, which is also how drift is recognised.</summary>
    public bool Comments { get; init; } = true;
}
