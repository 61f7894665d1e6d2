using System.Net.Sockets;

namespace PortPublisher.Service.Hosting;

/// <summary>
/// Clears the way for the control socket: a socket file left by a process that is gone is removed (Kestrel cannot bind
/// over it), but one that a live service answers on is never taken over.
/// </summary>
internal static class ControlSocketCheck
{
    /// <exception cref="InvalidOperationException">Something answers on the path, or the path is not a socket.</exception>
    public static void RemoveIfStale(string path)
    {
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            return;
        }

        if (Directory.Exists(path) || (File.GetAttributes(path) & FileAttributes.Directory) != 0)
        {
            throw new InvalidOperationException($"--socket {path} is a directory");
        }

        string holder;
        try
        {
            // Non-blocking: a listener whose accept queue is full would hold a blocking connect for ever; EAGAIN means
            // someone listens, which is all this needs to know.
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
            probe.Connect(new UnixDomainSocketEndPoint(path));
            holder = PeerCredentials.Describe(probe);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock)
        {
            holder = string.Empty;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused)
        {
            File.Delete(path); // a socket nobody listens on: a previous run's
            return;
        }
        catch (SocketException e)
        {
            throw new InvalidOperationException($"--socket {path} exists and is not a socket this service can replace ({e.Message})");
        }

        throw new InvalidOperationException($"another service{holder} is listening on {path}; stop it, or give this one another --socket");
    }
}
