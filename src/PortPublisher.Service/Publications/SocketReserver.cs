using System.Net;
using System.Net.Sockets;
using PortPublisher.Core.Allocation;
using PortPublisher.Core.Specs;

namespace PortPublisher.Service.Publications;

/// <summary>
/// Reserves host ports with real sockets before any rule exists (Docker ≥ 28 does the same): SO_REUSEADDR, IPV6_V6ONLY
/// for IPv6, bind. A port another process holds fails the publish here, with Docker's error text.
/// </summary>
internal sealed class SocketReserver(Func<HostBinding, string> describe) : IHostPortReserver
{
    private readonly Dictionary<HostBinding, Socket> _held = [];

    /// <summary>Takes the socket reserved for a binding out of this reserver (the caller owns it from then on).</summary>
    public Socket? Take(HostBinding binding) => _held.Remove(binding, out Socket? s) ? s : null;

    public void Reserve(IReadOnlyList<HostBinding> group, bool exactPort)
    {
        var made = new List<(HostBinding, Socket)>();
        foreach (HostBinding b in group)
        {
            if (b.Protocol == Protocol.Sctp)
            {
                continue; // the kernel's SCTP sockets are not reserved (as with podman); the allocator still tracks the port
            }

            Socket s;
            try
            {
                s = Create(b);
            }
            catch (SocketException e)
            {
                foreach ((_, Socket m) in made)
                {
                    m.Dispose();
                }

                // One socket per binding holds its port (as Docker does): large ranges need a large RLIMIT_NOFILE.
                throw new PortAllocationException($"cannot reserve host port for {describe(b)}: {e.Message} (raise the service's open-file limit, LimitNOFILE)");
            }

            try
            {
                s.Bind(new IPEndPoint(b.HostIp, b.HostPort));
                made.Add((b, s));
            }
            catch (SocketException e)
            {
                s.Dispose();
                foreach ((_, Socket m) in made)
                {
                    m.Dispose();
                }

                string why = e.SocketErrorCode == SocketError.AddressAlreadyInUse ? "address already in use" : e.Message.ToLowerInvariant();
                throw new PortAllocationException(exactPort
                    ? $"failed to bind host port for {describe(b)}: {why}"
                    : $"failed to bind host port {b.HostPort} for {describe(b)}: {why}");
            }
        }

        foreach ((HostBinding b, Socket s) in made)
        {
            _held[b] = s;
        }
    }

    public void Unreserve(IReadOnlyList<HostBinding> group)
    {
        foreach (HostBinding b in group)
        {
            Take(b)?.Dispose();
        }
    }

    /// <summary>Releases every socket still held (a failed or dry-run publish).</summary>
    public void ReleaseAll()
    {
        foreach (Socket s in _held.Values)
        {
            s.Dispose();
        }

        _held.Clear();
    }

    public static Socket Create(HostBinding b)
    {
        var s = new Socket(b.HostIp.AddressFamily, b.Protocol == Protocol.Udp ? SocketType.Dgram : SocketType.Stream, b.Protocol == Protocol.Udp ? ProtocolType.Udp : ProtocolType.Tcp);
        s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        if (b.HostIp.AddressFamily == AddressFamily.InterNetworkV6)
        {
            s.DualMode = false; // IPV6_V6ONLY: [::] must not take 0.0.0.0's port
        }

        return s;
    }
}
