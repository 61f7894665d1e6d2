using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using PortPublisher.Service.Publications;
using Xunit;

namespace PortPublisher.Service.UnitTests;

public sealed class SystemdWatchdogTests
{
    [Fact]
    public async Task PingsStopWhileTheWriterIsWedgedAndResumeAfter()
    {
        var time = new FakeTimeProvider();
        await using var queue = new CommandQueue(NullLogger<CommandQueue>.Instance);
        queue.Start();
        ISystemdNotifier notifier = Substitute.For<ISystemdNotifier>();
        notifier.IsEnabled.Returns(true);
        int pings = 0;
        notifier.When(n => n.Notify(Arg.Is<ServiceState>(s => s.ToString() == "WATCHDOG=1"))).Do(_ => Interlocked.Increment(ref pings));
        using var watchdog = new SystemdWatchdog(notifier, queue, time, TimeSpan.FromSeconds(2)); // WATCHDOG_USEC=2000000
        await watchdog.StartAsync(TestContext.Current.CancellationToken);

        await Until(() => { time.Advance(TimeSpan.FromSeconds(1)); return Volatile.Read(ref pings) >= 1; });

        // Wedge the writer: pings queue up behind the stuck command, and none gets through.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<bool> stuck = queue.RunAsync("stuck", async _ =>
        {
            entered.SetResult();
            await gate.Task;
            return true;
        });
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        // The watchdog queues its next ping only after it has finished with the last (notified or not): once one waits
        // behind the stuck command, every earlier ping is counted.
        await Until(() => { time.Advance(TimeSpan.FromSeconds(1)); return queue.Depth >= 2; });
        int before = Volatile.Read(ref pings);
        await Until(() => { time.Advance(TimeSpan.FromSeconds(1)); return queue.Depth >= 4; }); // the stuck command and three pings
        Assert.Equal(before, Volatile.Read(ref pings));

        gate.SetResult();
        await stuck;
        await Until(() => { time.Advance(TimeSpan.FromSeconds(1)); return Volatile.Read(ref pings) > before; });
        await watchdog.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task WithoutWatchdogUsecNothingIsSent()
    {
        await using var queue = new CommandQueue(NullLogger<CommandQueue>.Instance);
        ISystemdNotifier notifier = Substitute.For<ISystemdNotifier>();
        notifier.IsEnabled.Returns(true);
        using var watchdog = new SystemdWatchdog(notifier, queue, new FakeTimeProvider(), null);
        await watchdog.StartAsync(TestContext.Current.CancellationToken);
        await watchdog.ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        notifier.DidNotReceiveWithAnyArgs().Notify(default!);
    }

    /// <summary>Steps the fake clock until the condition holds; a generous real deadline turns a hang into a failure.</summary>
    private static async Task Until(Func<bool> step)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!step())
        {
            await Task.Delay(5, deadline.Token);
        }
    }
}
