namespace PortPublisher.Netlink.Nft;

/// <summary>How the kernel's tables compare with what we expect.</summary>
public enum RulesetState
{
    /// <summary>Tables, chains, rules and elements are as we left them.</summary>
    InSync,

    /// <summary>At least one of our tables does not exist (flushed, deleted, or never installed).</summary>
    Missing,

    /// <summary>The tables exist but someone changed a chain, rule, map or element.</summary>
    Differs,
}
