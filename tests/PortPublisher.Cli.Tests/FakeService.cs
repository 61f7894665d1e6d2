using System.Net.Sockets;
using System.Text;

namespace PortPublisher.Cli.Tests;

/// <summary>A minimal HTTP/1.1 responder on a Unix socket: records each request and answers from a handler.</summary>
internal sealed class FakeService : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly Func<string, string, string, (int Status, string Body)> _handler;
    private readonly CancellationTokenSource _cts = new();
    private readonly Task _loop;
    private readonly string? _dir;

    /// <param name="handler">(method, path, body) → (status, body).</param>
    /// <param name="socketPath">Where to listen; by default a socket in a directory of its own, removed on dispose.</param>
    public FakeService(Func<string, string, string, (int Status, string Body)> handler, string? socketPath = null)
    {
        _handler = handler;
        _dir = socketPath is null ? Directory.CreateTempSubdirectory("pp-cli-").FullName : null;
        SocketPath = socketPath ?? Path.Combine(_dir!, "pp.sock");
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(16);
        _loop = AcceptLoopAsync();
    }

    public string SocketPath { get; }

    public string Host => $"unix://{SocketPath}";

    public List<string> Requests { get; } = [];

    public int Connections { get; private set; }

    private async Task AcceptLoopAsync()
    {
        while (!_cts.IsCancellationRequested)
        {
            Socket s;
            try
            {
                s = await _listener.AcceptAsync(_cts.Token);
            }
            catch (Exception) when (_cts.IsCancellationRequested)
            {
                return;
            }

            Connections++;
            _ = ServeAsync(s);
        }
    }

    private async Task ServeAsync(Socket s)
    {
        using (s)
        {
            using var stream = new NetworkStream(s);
            var buffer = new byte[65536];
            int have = 0;
            while (true)
            {
                int headerEnd;
                while ((headerEnd = IndexOf(buffer, have, "\r\n\r\n"u8)) < 0)
                {
                    int n = await stream.ReadAsync(buffer.AsMemory(have));
                    if (n == 0)
                    {
                        return;
                    }

                    have += n;
                }

                string head = Encoding.ASCII.GetString(buffer, 0, headerEnd);
                string[] lines = head.Split("\r\n");
                string[] first = lines[0].Split(' ');
                int length = lines.Skip(1).Where(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)).Select(l => int.Parse(l[15..].Trim())).FirstOrDefault();
                int total = headerEnd + 4 + length;
                while (have < total)
                {
                    have += await stream.ReadAsync(buffer.AsMemory(have));
                }

                string body = Encoding.UTF8.GetString(buffer, headerEnd + 4, length);
                lock (Requests)
                {
                    Requests.Add($"{first[0]} {first[1]} {body}".TrimEnd());
                }

                (int status, string reply) = _handler(first[0], first[1], body);
                byte[] payload = Encoding.UTF8.GetBytes(reply);
                string response = $"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {payload.Length}\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(response));
                await stream.WriteAsync(payload);
                Buffer.BlockCopy(buffer, total, buffer, 0, have - total);
                have -= total;
            }
        }
    }

    private static int IndexOf(byte[] buffer, int length, ReadOnlySpan<byte> needle) => buffer.AsSpan(0, length).IndexOf(needle);

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        _listener.Dispose();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _cts.Dispose();
        if (_dir is not null)
        {
            Directory.Delete(_dir, recursive: true);
        }
        else
        {
            File.Delete(SocketPath);
        }
    }
}
