using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Xunit;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

/// <summary>
/// The systemd watchdog, from outside: the daemon runs with NOTIFY_SOCKET (a datagram socket this test reads) and
/// WATCHDOG_USEC, under a parent called "systemd" (the hosting helpers enable the notifier only then). Pings come at
/// half the interval, and go on while a hostile target (a FIFO as --netns, which once blocked the writer in open(2))
/// is refused. That pings stop while the writer is wedged is proven without a way to wedge the real one:
/// SystemdWatchdogTests in the unit tests blocks the queue itself.
/// </summary>
[Trait("Category", "Netns")]
[Collection(Exclusive.Name)]
public sealed class WatchdogTests
{
    private const int WatchdogUsec = 1_000_000;

    [Fact]
    public async Task Watchdog_PingsAtHalfTheIntervalAndAHostileTargetDoesNotStopThem()
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

            // A FIFO as --netns is refused at once (it is looked at, not opened), and the writer never stops pinging.
            Sh($"mkfifo {fifo}");
            TimeSpan before = Pings()[^1];
            (int code, _, string err) = lab.Cli(TimeSpan.FromSeconds(15), "publish", "fifo", "--netns", fifo, "-p", "7900:80");
            Assert.True(code == 1, $"the FIFO publish exited {code}: {err}");
            Assert.Contains("is not a network namespace", err, StringComparison.Ordinal);
            await Net.Eventually(() => Pings().Length > 0 && Pings()[^1] > before, 3000, "a ping after the refused publish");
            TimeSpan[] after = Pings();
            Assert.All(after.Zip(after.Skip(1), (a, b) => b - a), g => Assert.InRange(g.TotalMilliseconds, 250, 900));
        }
        finally
        {
            TrySh($"test -p {fifo} && timeout 2 sh -c 'echo > {fifo}'"); // a writer still blocked on the FIFO is let go
            await stop.CancelAsync();
            await Task.WhenAny(reading, Task.Delay(2000));
        }
    }
}
