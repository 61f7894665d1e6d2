using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;

namespace PortPublisher.Service.Tests;

/// <summary>
/// The managed bytes a .NET process keeps alive, read the way dotnet-gcdump does: an EventPipe session with the
/// runtime's GCHeapCollect keyword makes it run a full blocking GC, and that GC's GCHeapStats event says what survived.
/// Unlike VmRSS this does not move with the JIT's code, the GC's budgets or malloc's arenas, so a per-publication leak
/// of a few KiB shows after a hundred cycles.
/// </summary>
internal static class LiveHeap
{
    private const string Runtime = "Microsoft-Windows-DotNETRuntime";
    private const long GcKeyword = 0x1;
    private const long GcHeapCollectKeyword = 0x800000;

    /// <summary>Bytes that survived a full GC induced in process <paramref name="pid"/> (all generations, LOH and POH).</summary>
    public static async Task<long> BytesAsync(int pid, CancellationToken ct)
    {
        var client = new DiagnosticsClient(pid);
        using EventPipeSession session = await client.StartEventPipeSessionAsync(
            new EventPipeProvider(Runtime, EventLevel.Informational, GcKeyword | GcHeapCollectKeyword), requestRundown: false, circularBufferMB: 16, ct);
        var survived = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task reading = Task.Run(() =>
        {
            using var source = new EventPipeEventSource(session.EventStream);
            bool full = false;
            source.Clr.GCStart += e => full = e.Depth == 2;
            source.Clr.GCHeapStats += e =>
            {
                if (full)
                {
                    survived.TrySetResult(e.TotalPromoted);
                }
            };
            source.Process();
        }, ct);
        try
        {
            return await survived.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
        }
        finally
        {
            await session.StopAsync(ct);
            await reading.WaitAsync(TimeSpan.FromSeconds(30), ct);
        }
    }
}
