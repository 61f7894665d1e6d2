using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;

namespace PortPublisher.Service.Publications;

/// <summary>
/// Sends WATCHDOG=1 at half the interval systemd asks for (WatchdogSec= sets WATCHDOG_USEC), but only after a no-op
/// command went through the publication manager's queue: a wedged writer stops the pings and systemd restarts us.
/// Outside systemd there is no notifier and nothing to do.
/// </summary>
internal sealed class SystemdWatchdog(ISystemdNotifier? notifier, PublicationManager manager) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (notifier is null || !notifier.IsEnabled
            || !long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out long usec)
            || usec <= 0)
        {
            return;
        }

        var period = TimeSpan.FromMicroseconds(usec / 2);
        using var timer = new PeriodicTimer(period);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            // A ping still queued when the next tick comes is dropped, so a wedged writer does not collect them.
            using var late = new CancellationTokenSource(period);
            if (await manager.PingAsync(late.Token).WaitAsync(period, stoppingToken).ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default))
            {
                notifier.Notify(new ServiceState("WATCHDOG=1"));
            }
        }
    }
}
