using System.Net.Sockets;

namespace PortPublisher.Proxy.Tcp;

/// <summary>How one direction of a relay ended. Relays return results instead of throwing on the hot path.</summary>
internal readonly record struct PumpResult(PumpOutcome Outcome, SocketError Error = SocketError.Success)
{
    public static readonly PumpResult Eof = new(PumpOutcome.Eof);

    public bool Failed => Outcome is PumpOutcome.ReadFailed or PumpOutcome.WriteFailed;
}
