using System.Net;
using PortPublisher.Service.Publications;

namespace PortPublisher.Service.Kernel;

/// <summary>
/// Runs a blocking call that the writer must not wait on unboundedly (open(2) of a path a user named can block for
/// ever: a FIFO, a hung FUSE or NFS mount) on a pool thread, and gives up after a deadline. A result that arrives after
/// the deadline is disposed, so nothing leaks but the blocked thread itself.
/// </summary>
internal static class OffWriter
{
    public static async ValueTask<T> RunAsync<T>(Func<T> work, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        Task<T> task = Task.Run(work, CancellationToken.None);
        try
        {
            return await task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            _ = task.ContinueWith(static t => (t.Result as IDisposable)?.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            throw new PublishException(HttpStatusCode.GatewayTimeout, $"{what} did not finish within {timeout.TotalSeconds:0.#} s; nothing was changed");
        }
    }
}
