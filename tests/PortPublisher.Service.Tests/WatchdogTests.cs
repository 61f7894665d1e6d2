using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Xunit;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

/// <summary>
/// The systemd watchdog, from outside: the daemon runs with NOTIFY_SOCKET (a datagram socket this test reads) and
/// WATCHDOG_USEC, under a parent called "systemd" (the hosting helpers enable the notifier only then). Pings come at
/// half the interval; wedging the writer stops them. The wedge is black-box: a FIFO given as --netns blocks the
/// writer in open(2) until someone opens the FIFO's other end.
/// </summary>
[Trait("Category", "Netns")]
[Collection(Exclusive.Name)]
public sealed class WatchdogTests
{
    private const int WatchdogUsec = 1_000_000;

    [Fact]
    public async Task Watchdog_PingsAtHalfTheIntervalAndStopsWhileTheWriterIsWedged()
    {
        await using Lab lab = await Lab.StartAsync();
        lab.StopService(kill: false);
        string notify = Path.Combine(lab.Dir, "notify.sock");
        using var receiver = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        receiver.Bind(new UnixDomainSocketEndPoint(notify));
        var clock = Stopwatch.StartNew();
        var pings = new List<TimeSpan>();
        var states = new List<string>();
        using var stop = new CancellationTokenSource();
        Task reading = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            while (!stop.IsCancellationRequested)
            {
                int n = await receiver.ReceiveAsync(buffer, SocketFlags.None, stop.Token);
                string message = Encoding.ASCII.GetString(buffer, 0, n);
                lock (pings)
                {
                    states.Add(message);
                    if (message.Contains("WATCHDOG=1", StringComparison.Ordinal))
                    {
                        pings.Add(clock.Elapsed);
                    }
                }
            }
        });
        TimeSpan[] Pings()
        {
            lock (pings)
            {
                return [.. pings];
            }
        }

        string fifo = Path.Combine(lab.Dir, "wedge");
        try
        {
            await lab.StartServiceAsync(new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notify, ["WATCHDOG_USEC"] = $"{WatchdogUsec}" }, "systemd");

            // Half the interval: six pings, each gap well under WATCHDOG_USEC (systemd's limit) and not a busy loop.
            await Net.Eventually(() => Pings().Length >= 6, 10_000, () => $"6 WATCHDOG=1 pings (got: {string.Join(", ", states)})");
            TimeSpan[] gaps = [.. Pings().Zip(Pings().Skip(1), (a, b) => b - a)];
            Assert.All(gaps, g => Assert.InRange(g.TotalMilliseconds, 250, 900));
            Assert.Contains("READY=1", string.Join('\n', states), StringComparison.Ordinal);

            // Wedge the writer: it opens the FIFO for reading and blocks there; the pings stop, the process does not.
            Sh($"mkfifo {fifo}");
            Task<(int Code, string Stdout, string Stderr)> wedged = Task.Run(() => lab.Cli(TimeSpan.FromSeconds(60), "publish", "wedged", "--netns", fifo, "-p", "7900:80"));
            TimeSpan quietFrom = TimeSpan.Zero;
            await Net.Eventually(() =>
            {
                TimeSpan[] p = Pings();
                quietFrom = p[^1];
                return clock.Elapsed - quietFrom > TimeSpan.FromMicroseconds(WatchdogUsec * 2);
            }, 10_000, "two watchdog intervals without a ping once the writer is wedged");
            Assert.False(wedged.IsCompleted, "the wedging publish returned: the writer was not blocked");
            Assert.Equal(0, lab.Cli(TimeSpan.FromSeconds(15), "ls").Code); // the API still answers; only the writer is stuck

            // Unwedge it: open the FIFO's other end. The publish then fails (not a namespace) and the pings resume.
            TimeSpan released = clock.Elapsed;
            using (File.OpenHandle(fifo, FileMode.Open, FileAccess.Write))
            {
            }

            (int code, _, string err) = await wedged.WaitAsync(TimeSpan.FromSeconds(15));
            Assert.True(code == 1, $"the wedged publish exited {code}: {err}");
            Assert.Contains("is not a network namespace", err, StringComparison.Ordinal);
            await Net.Eventually(() => Pings()[^1] > released, 3000, "a ping after the writer was released");
        }
        finally
        {
            TrySh($"test -p {fifo} && timeout 2 sh -c 'echo > {fifo}'"); // a writer still blocked on the FIFO is let go
            await stop.CancelAsync();
            await Task.WhenAny(reading, Task.Delay(2000));
        }
    }
}
