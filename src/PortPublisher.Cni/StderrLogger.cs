using Microsoft.Extensions.Logging;

namespace PortPublisher.Cni;

/// <summary>
/// One line per event on stderr, <c>portpublisher-cni[PID]: level: message</c>. The runtime shows stderr in its own
/// log (Podman at debug level) or drops it; stdout is the result's alone. No logging framework: each verb is a process
/// that must start in milliseconds.
/// </summary>
internal sealed class StderrLogger(TextWriter writer, LogLevel minimum) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        if (!IsEnabled(logLevel))
        {
            return;
        }

        string level = logLevel switch
        {
            LogLevel.Trace => "trace",
            LogLevel.Debug => "debug",
            LogLevel.Information => "info",
            LogLevel.Warning => "warning",
            LogLevel.Error => "error",
            _ => "critical",
        };
        writer.WriteLine($"portpublisher-cni[{Environment.ProcessId}]: {level}: {formatter(state, exception)}");
        writer.Flush();
    }
}
