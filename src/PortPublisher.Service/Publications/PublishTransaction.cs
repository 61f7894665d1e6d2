using Microsoft.Extensions.Logging;
using PortPublisher.Service.Logging;

namespace PortPublisher.Service.Publications;

/// <summary>
/// The undo list of one publish: each step that changed something registers how to take it back, and a failure (or a
/// dry run) runs them in reverse. An undo that fails is logged and the rest still run: the aim is to leave nothing
/// behind, and one stuck resource must not keep the others. With a <see cref="TimeProvider"/> it also times each step,
/// for the Debug line that says where a publish spent its time (a 10,000-port range: allocating, persisting, the
/// transaction, the listeners).
/// </summary>
internal sealed class PublishTransaction(ILogger logger, string publication, TimeProvider? time = null)
{
    private readonly Stack<(string Step, Func<ValueTask> Undo)> _undo = new();
    private readonly StepTimer _timer = new(time);

    /// <summary>The step running now, named in the error if it fails.</summary>
    public string Step { get; private set; } = "start";

    public void Begin(string step)
    {
        _timer.Begin(step);
        Step = step;
    }

    /// <summary>Milliseconds per step so far; empty without a TimeProvider.</summary>
    public string Timings() => _timer.Summary();

    public void OnRollback(string step, Action undo) => _undo.Push((step, () =>
    {
        undo();
        return ValueTask.CompletedTask;
    }));

    public void OnRollback(string step, Func<ValueTask> undo) => _undo.Push((step, undo));

    /// <summary>Keeps every change: nothing will be undone.</summary>
    public void Commit() => _undo.Clear();

    public async ValueTask RollbackAsync()
    {
        while (_undo.TryPop(out (string Step, Func<ValueTask> Undo) u))
        {
            try
            {
                await u.Undo();
            }
#pragma warning disable CA1031 // one failed undo must not keep the rest from running; it is logged
            catch (Exception e)
#pragma warning restore CA1031
            {
                ServiceLog.UndoFailed(logger, publication, u.Step, e.Message);
            }
        }
    }
}
