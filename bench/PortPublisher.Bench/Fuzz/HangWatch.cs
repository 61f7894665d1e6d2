using System.Collections.Concurrent;
using System.Diagnostics;

namespace PortPublisher.Bench.Fuzz;

/// <summary>
/// Catches a case that never returns (an unbounded loop cannot be timed from inside): each sampling thread marks
/// the case it is in, and a watcher thread that finds one older than the limit prints the input and ends the process
/// with exit code 3, because a thread stuck in a loop cannot be stopped any other way.
/// </summary>
internal sealed class HangWatch : IDisposable
{
    private readonly ConcurrentDictionary<int, (long Started, Func<string> Input)> _running = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly int _limitMs;
    private readonly string _target;

    public HangWatch(string target, int limitMs)
    {
        _target = target;
        _limitMs = limitMs;
        _thread = new Thread(Watch) { IsBackground = true, Name = "fuzz-hang-watch" };
        _thread.Start();
    }

    public void Enter(Func<string> input) => _running[Environment.CurrentManagedThreadId] = (Stopwatch.GetTimestamp(), input);

    public void Leave() => _running.TryRemove(Environment.CurrentManagedThreadId, out _);

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _stop.Dispose();
    }

    private void Watch()
    {
        while (!_stop.Token.WaitHandle.WaitOne(250))
        {
            foreach ((long started, Func<string> input) in _running.Values)
            {
                if (Stopwatch.GetElapsedTime(started).TotalMilliseconds > _limitMs)
                {
                    Console.Error.WriteLine($"fuzz {_target}: a case has run for more than {_limitMs} ms (a hang); its input: {input()}");
                    Environment.Exit(3);
                }
            }
        }
    }
}
