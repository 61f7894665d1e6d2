namespace PortPublisher.Core.Specs;

/// <summary>Lower-case protocol names as Docker writes them in port keys (<c>80/tcp</c>).</summary>
public static class ProtocolNames
{
    public static string ToName(this Protocol protocol) => protocol switch
    {
        Protocol.Tcp => "tcp",
        Protocol.Udp => "udp",
        Protocol.Sctp => "sctp",
        _ => throw new ArgumentOutOfRangeException(nameof(protocol)),
    };

    /// <summary>Accepts exactly <c>tcp</c>, <c>udp</c> and <c>sctp</c>, in any case, as go-connections' validateProto does after lower-casing.</summary>
    public static bool TryParse(string name, out Protocol protocol)
    {
        switch (name.ToLowerInvariant())
        {
            case "tcp": protocol = Protocol.Tcp; return true;
            case "udp": protocol = Protocol.Udp; return true;
            case "sctp": protocol = Protocol.Sctp; return true;
            default: protocol = default; return false;
        }
    }
}
