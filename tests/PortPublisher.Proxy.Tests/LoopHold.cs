using PortPublisher.Proxy.Internal;
using Xunit;

namespace PortPublisher.Proxy.Tests;

/// <summary>Holds an event loop inside a handler: a loop that does not answer, or, released, one that was busy meanwhile.</summary>
internal static class LoopHold
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Returns once <paramref name="loop"/> runs a handler that waits for <paramref name="release"/>; what reaches the
    /// loop from then on waits in its queue or its fds until the caller sets it. Released here if the loop never got there.
    /// </summary>
    public static async Task Hold(EventLoop loop, ManualResetEventSlim release)
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Post(() =>
        {
            entered.SetResult();
            release.Wait();
        });
        try
        {
            await entered.Task.WaitAsync(s_deadline, TestContext.Current.CancellationToken);
        }
        catch
        {
            release.Set();
            throw;
        }
    }
}
