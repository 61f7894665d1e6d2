namespace PortPublisher.Netlink.Nft;

/// <summary>A set or map element: the key bytes and, for maps, the value bytes (every field zero-padded to 4).</summary>
internal readonly record struct NftElement(byte[] Key, byte[]? Data);
