using Microsoft.Extensions.Logging.Abstractions;
using PortPublisher.Service.Publications;
using Xunit;

namespace PortPublisher.Service.UnitTests;

public sealed class CommandQueueTests
{
    [Fact]
    public async Task ACommandWhoseCallerLeftBeforeItRanIsDroppedAndChangesNothing()
    {
        await using var queue = new CommandQueue(NullLogger<CommandQueue>.Instance);
        queue.Start();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<int> first = queue.RunAsync("first", async _ =>
        {
            await gate.Task;
            return 1;
        });
        using var caller = new CancellationTokenSource();
        bool ran = false;
        Task<int> second = queue.RunAsync("second", _ =>
        {
            ran = true;
            return ValueTask.FromResult(2);
        }, caller.Token);

        await caller.CancelAsync();
        gate.SetResult();

        Assert.Equal(1, await first);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);
        Assert.Equal(3, await queue.RunAsync("third", _ => ValueTask.FromResult(3))); // the writer went on
        Assert.False(ran);
    }

    [Fact]
    public async Task CommandsRunOneAtATimeInOrder()
    {
        await using var queue = new CommandQueue(NullLogger<CommandQueue>.Instance);
        queue.Start();
        int running = 0, most = 0;
        var order = new List<int>();
        Task[] all = [.. Enumerable.Range(0, 200).Select(i => queue.RunAsync($"c{i}", async _ =>
        {
            most = Math.Max(most, Interlocked.Increment(ref running));
            await Task.Yield();
            order.Add(i);
            Interlocked.Decrement(ref running);
            return i;
        }))];
        await Task.WhenAll(all);
        Assert.Equal(1, most);
        Assert.Equal(Enumerable.Range(0, 200), order);
    }

    [Fact]
    public async Task AfterStopCommandsAreRefusedWithAMessage()
    {
        var queue = new CommandQueue(NullLogger<CommandQueue>.Instance);
        queue.Start();
        await queue.StopAsync(TimeSpan.FromSeconds(5));
        PublishException e = await Assert.ThrowsAsync<PublishException>(() => queue.RunAsync("late", _ => ValueTask.FromResult(0)));
        Assert.Equal("the service is stopping", e.Message);
        Assert.False(queue.TryPost("late", _ => ValueTask.CompletedTask));
        await queue.DisposeAsync();
    }

    [Fact]
    public async Task AStopDoesNotWaitForAStuckCommandPastItsDeadline()
    {
        var queue = new CommandQueue(NullLogger<CommandQueue>.Instance);
        queue.Start();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<int> stuck = queue.RunAsync("stuck", async ct =>
        {
            entered.SetResult();
            await Task.Delay(Timeout.Infinite, ct); // ends only when the stop gives up on it
            return 0;
        });
        await entered.Task;
        await queue.StopAsync(TimeSpan.FromMilliseconds(50)).AsTask().WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stuck);
        await queue.DisposeAsync();
    }
}
