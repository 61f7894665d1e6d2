using PortPublisher.Proxy.Internal;
using Xunit;

namespace PortPublisher.Proxy.Tests;

/// <summary>
/// The loop's wake-up protocol (issue 9) and InvokeAsync's cancellation. Each test has a loop of its own: no other
/// test's sockets can wake it, so a lost wake-up stays lost instead of being rescued by someone else's I/O.
/// </summary>
public sealed class EventLoopTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task PostInTheWakeWindow_LeavesLaterInvokesAbleToWakeTheLoop()
    {
        using var loop = new EventLoop("test wake window");
        int hooked = 0;
        bool windowPostRan = false;

        // Once, on the loop thread, between the two steps of taking a wake-up: the Post of issue 9, placed exactly.
        loop.WakeWindowHook = () =>
        {
            if (Interlocked.Exchange(ref hooked, 1) == 0)
            {
                loop.Post(() => windowPostRan = true);
            }
        };

        await Completes(loop.InvokeAsync(() => { }), "the first invoke");
        Assert.Equal(1, Volatile.Read(ref hooked));

        // With the old order this one never ran: the window's signal was drained while its flag stayed set, so this
        // Post skipped the signal and the loop slept on in epoll_wait.
        await Completes(loop.InvokeAsync(() => { }), "an invoke after a Post in the wake window");
        bool ran = false;
        await Completes(loop.InvokeAsync(() => ran = windowPostRan), "reading the window's post");
        Assert.True(ran);
    }

    [Fact]
    public async Task ManyThreadsPostingAndInvokingAtOnce_EveryActionRuns()
    {
        // Posters hammer Post with no pause, so one of them is likely to hit the instant the loop re-arms; invokers
        // each wait for their action, so a lost wake-up shows as an invoke that does not complete.
        const int Posters = 4, PostsEach = 50_000, Invokers = 4, InvokesEach = 5_000;
        using var loop = new EventLoop("test stress");
        long ran = 0; // written on the loop thread only
        CancellationToken ct = TestContext.Current.CancellationToken;
        Task[] posters = [.. Enumerable.Range(0, Posters).Select(_ => Task.Factory.StartNew(
            () =>
            {
                for (int i = 0; i < PostsEach; i++)
                {
                    loop.Post(() => ran++);
                }
            },
            ct,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default))];
        Task[] invokers = [.. Enumerable.Range(0, Invokers).Select(_ => Task.Run(
            async () =>
            {
                for (int i = 0; i < InvokesEach; i++)
                {
                    await loop.InvokeAsync(() => ran++).WaitAsync(Deadline, ct);
                }
            },
            ct))];

        await Completes(Task.WhenAll([.. posters, .. invokers]), $"{Posters * PostsEach} posts and {Invokers * InvokesEach} invokes");
        long total = 0;
        await Completes(loop.InvokeAsync(() => total = ran), "the final invoke"); // FIFO: every Post above ran before it
        Assert.Equal((Posters * PostsEach) + (Invokers * InvokesEach), total);
    }

    [Fact]
    public async Task InvokeAsync_CanceledWhileTheLoopIsStuck_GivesUpAndNeverRunsTheAction()
    {
        using var loop = new EventLoop("test cancel");
        using var release = new ManualResetEventSlim();
        var stuck = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Post(() =>
        {
            stuck.SetResult();
            release.Wait(); // a handler that does not return: the loop cannot reach anything queued behind it
        });
        await Completes(stuck.Task, "the stuck handler");

        bool ran = false;
        using var cts = new CancellationTokenSource();
        Task invoke = loop.InvokeAsync(() => ran = true, cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => invoke.WaitAsync(Deadline, TestContext.Current.CancellationToken));

        release.Set();
        bool ranWhenReached = true;
        await Completes(loop.InvokeAsync(() => ranWhenReached = ran), "an invoke queued behind the canceled one");
        Assert.False(ranWhenReached);
    }

    [Fact]
    public async Task InvokeAsync_WithATokenThatNeverFires_RunsTheAction()
    {
        using var loop = new EventLoop("test token");
        using var cts = new CancellationTokenSource();
        bool ran = false;
        await Completes(loop.InvokeAsync(() => ran = true, cts.Token), "the invoke");
        Assert.True(ran);
    }

    /// <summary>Asserts on completion, not on elapsed time: the deadline is only how long to wait before saying no.</summary>
    private static async Task Completes(Task task, string what)
    {
        Task first = await Task.WhenAny(task, Task.Delay(Deadline, TestContext.Current.CancellationToken));
        Assert.True(first == task, $"{what} did not complete within {Deadline.TotalSeconds} s: the loop missed a wake-up");
        await task;
    }
}
