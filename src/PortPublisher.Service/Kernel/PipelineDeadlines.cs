namespace PortPublisher.Service.Kernel;

/// <summary>
/// How long the writer waits on anything outside itself. Past a deadline the step fails (logged, counted) and its
/// resource is reclaimed anyway; the writer goes on with the next command.
/// </summary>
internal sealed record PipelineDeadlines
{
    /// <summary>Opening a namespace and reading its addresses and routes.</summary>
    public TimeSpan Kernel { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>One proxied binding's loops letting go of its listener.</summary>
    public TimeSpan ProxyStop { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The whole of a stop: the queue's last command, then every proxied binding (SIGTERM must end in 5 s).</summary>
    public TimeSpan Shutdown { get; init; } = TimeSpan.FromSeconds(4);
}
