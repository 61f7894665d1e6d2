namespace PortPublisher.Netlink.Nft;

/// <summary>One message of a batch as sent: its sequence number and the operation it carries, for error reports.</summary>
internal readonly record struct NftMessage(uint Seq, string Operation);
