using System.Globalization;

namespace PortPublisher.Service.Publications;

/// <summary>
/// Times the steps of one publish or unpublish, for the Debug line that says where it spent its time (a 10,000-port
/// range: allocating, persisting, the transaction, the listeners). Without a <see cref="TimeProvider"/> it does nothing.
/// </summary>
internal sealed class StepTimer(TimeProvider? time)
{
    private readonly List<(string Step, long Ticks)>? _steps = time is null ? null : [];
    private long _started = time?.GetTimestamp() ?? 0;
    private string? _step;

    /// <summary>Ends the step running now (if any) and starts <paramref name="step"/>.</summary>
    public void Begin(string step)
    {
        End();
        _step = step;
    }

    /// <summary>Milliseconds per step (<c>allocate 81.2, persist 12.0, …</c>), ending the current one; empty without a clock.</summary>
    public string Summary()
    {
        End();
        return _steps is null ? string.Empty : string.Join(", ", _steps.Select(s => $"{s.Step} {Math.Round(time!.GetElapsedTime(0, s.Ticks).TotalMilliseconds, 1).ToString(CultureInfo.InvariantCulture)}"));
    }

    private void End()
    {
        if (_steps is null)
        {
            return;
        }

        long now = time!.GetTimestamp();
        if (_step is not null)
        {
            _steps.Add((_step, now - _started));
        }

        _started = now;
        _step = null;
    }
}
