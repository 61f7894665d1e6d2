using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;

namespace PortPublisher.Service.Publications;

/// <summary>
/// Sends WATCHDOG=1 at half the interval systemd asks for (WatchdogSec= sets WATCHDOG_USEC), but only after a no-op
/// command went through the writer's queue within that half: a wedged writer stops the pings and systemd restarts us.
/// Outside systemd there is no notifier and nothing to do.
/// </summary>
internal sealed class SystemdWatchdog(ISystemdNotifier? notifier, CommandQueue queue, TimeProvider time, TimeSpan? interval) : BackgroundService
{
    /// <summary>WATCHDOG_USEC as systemd sets it, or null.</summary>
    public static TimeSpan? IntervalFromEnvironment() =>
        long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out long usec) && usec > 0
            ? TimeSpan.FromMicroseconds(usec)
            : null;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (notifier is null || !notifier.IsEnabled || interval is not { } full)
        {
            return;
        }

        TimeSpan period = full / 2;
        using var timer = new PeriodicTimer(period, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            // A ping still queued when the period ends is dropped, so a wedged writer does not collect them.
            using var late = new CancellationTokenSource(period, time);
            Task<bool> ping = queue.RunAsync("watchdog ping", _ => ValueTask.FromResult(true), late.Token);
            if (await ping.WaitAsync(period, time, stoppingToken).ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default))
            {
                notifier.Notify(new ServiceState("WATCHDOG=1"));
            }
        }
    }
}
