using Microsoft.Extensions.Logging;

namespace PortPublisher.Cni;

/// <summary>The plugin's log lines, on stderr (stdout carries only the result or the error, as the spec wants).</summary>
internal static partial class CniLog
{
    [LoggerMessage(1, LogLevel.Information, "{Command} {Attachment} on {Network} ({Backend}): {Count} bindings in {Ms} ms{Summary}")]
    public static partial void Done(ILogger logger, string command, string attachment, string network, string backend, int count, double ms, string summary);

    [LoggerMessage(2, LogLevel.Warning, "skipped {What}")]
    public static partial void Skipped(ILogger logger, string what);

    [LoggerMessage(3, LogLevel.Warning, "option ignored: {What}")]
    public static partial void Ignored(ILogger logger, string what);

    [LoggerMessage(4, LogLevel.Warning, "tables ip/ip6 {Table} were {State} ({Differences}); rebuilding them from the state file")]
    public static partial void Repairing(ILogger logger, string table, string state, string differences);

    [LoggerMessage(5, LogLevel.Error, "could not put the previous state back after a failed change: {Reason}")]
    public static partial void RestoreFailed(ILogger logger, string reason);

    [LoggerMessage(6, LogLevel.Information, "net.ipv4.conf.{Link}.route_localnet={Value}")]
    public static partial void LocalnetChanged(ILogger logger, string link, int value);

    [LoggerMessage(7, LogLevel.Debug, "UDP conntrack flush failed: {Reason}")]
    public static partial void ConntrackFlushFailed(ILogger logger, string reason);

    [LoggerMessage(8, LogLevel.Information, "portpublisherd at {Socket} is not running ({Reason}): the plugin programs its own tables (direct mode)")]
    public static partial void ServiceAbsent(ILogger logger, string socket, string reason);

    [LoggerMessage(9, LogLevel.Warning, "DEL {Attachment}: portpublisherd at {Socket} is not running ({Reason}); if it carried this attachment, it drops it when it starts and finds the namespace gone")]
    public static partial void DelServiceAbsent(ILogger logger, string attachment, string socket, string reason);

    [LoggerMessage(10, LogLevel.Error, "{Command} failed: code {Code}: {Message}")]
    public static partial void Failed(ILogger logger, string command, int code, string message);

    [LoggerMessage(12, LogLevel.Information, "DEL {Attachment} on {Network} ({Backend}): removed in {Ms} ms")]
    public static partial void Deleted(ILogger logger, string attachment, string network, string backend, double ms);

    [LoggerMessage(11, LogLevel.Information, "GC {Network}: removed {Count} stale attachments ({Backend})")]
    public static partial void Collected(ILogger logger, string network, int count, string backend);
}
