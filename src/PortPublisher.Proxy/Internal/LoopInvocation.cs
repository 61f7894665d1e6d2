namespace PortPublisher.Proxy.Internal;

/// <summary>
/// One <see cref="EventLoop.InvokeAsync"/>: the action runs on the loop unless the caller's token fires first. A
/// token that fires before the loop reaches the action skips it for good (the caller was told it was canceled, so
/// it must not happen behind its back); one that fires while the action runs only ends the caller's wait, as a
/// handler cannot be interrupted. That is what lets a caller give up on a loop stuck in some other handler.
/// </summary>
internal sealed class LoopInvocation
{
    private const int Pending = 0;
    private const int Running = 1;
    private const int Canceled = 2;

    private readonly Action _action;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenRegistration _registration;
    private int _state;

    public LoopInvocation(Action action, CancellationToken cancellationToken)
    {
        _action = action;
        if (cancellationToken.CanBeCanceled)
        {
            // Unsafe: the callback needs no execution context, and capturing one per invocation would cost an allocation.
            _registration = cancellationToken.UnsafeRegister(static (s, t) => ((LoopInvocation)s!).Cancel(t), this);
        }
    }

    public Task Task => _done.Task;

    /// <summary>On the loop thread.</summary>
    public void Run()
    {
        // The CAS decides, once, between this and Cancel: whoever moves the state off Pending wins.
        if (Interlocked.CompareExchange(ref _state, Running, Pending) != Pending)
        {
            return;
        }

        try
        {
            _action();
            _done.TrySetResult();
        }
#pragma warning disable CA1031 // the caller gets the exception through the task, as from any async method
        catch (Exception e)
#pragma warning restore CA1031
        {
            _done.TrySetException(e);
        }
        finally
        {
            // Unregister, not Dispose: Dispose waits for a callback running on another thread, and the loop must not wait.
            _registration.Unregister();
        }
    }

    private void Cancel(CancellationToken cancellationToken)
    {
        _ = Interlocked.CompareExchange(ref _state, Canceled, Pending);
        _done.TrySetCanceled(cancellationToken);
    }
}
