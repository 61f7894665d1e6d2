namespace PortPublisher.Proxy.Internal;

/// <summary>Work an <see cref="EventLoop"/> runs after each pass while it reports pending deadlines (dial timeouts, accept back-off).</summary>
internal interface ILoopTicker
{
    /// <summary>Acts on deadlines up to <paramref name="nowMs"/> (Environment.TickCount64); returns whether deadlines remain.</summary>
    bool Tick(long nowMs);
}
