namespace PortPublisher.Netlink.Nft;

/// <summary>The result of comparing the kernel's tables with the expected ones, with what differs, for logs.</summary>
public sealed record RulesetCheck(RulesetState State, IReadOnlyList<string> Differences);
