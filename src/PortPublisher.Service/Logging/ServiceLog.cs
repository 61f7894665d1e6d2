using Microsoft.Extensions.Logging;

namespace PortPublisher.Service.Logging;

/// <summary>Service log events, IDs 1000–1099. Publish and unpublish are Information.</summary>
internal static partial class ServiceLog
{
    [LoggerMessage(1000, LogLevel.Information, "Published {Name} in {Netns}: {Count} bindings in {Milliseconds} ms: {Bindings}")]
    public static partial void Published(ILogger logger, string name, string netns, int count, double milliseconds, string bindings);

    [LoggerMessage(1001, LogLevel.Information, "Unpublished {Name}: {Count} bindings in {Milliseconds} ms")]
    public static partial void Unpublished(ILogger logger, string name, int count, double milliseconds);

    [LoggerMessage(1002, LogLevel.Warning, "Publish {Name} failed at {Step}: {Error}")]
    public static partial void PublishFailed(ILogger logger, string name, string step, string error);

    [LoggerMessage(1003, LogLevel.Information, "Restored {Count} publications with {Bindings} bindings; nftables {State}; {Milliseconds} ms")]
    public static partial void Restored(ILogger logger, int count, int bindings, string state, double milliseconds);

    [LoggerMessage(1004, LogLevel.Warning, "Dropped publication {Name} on restore: {Reason}")]
    public static partial void DroppedOnRestore(ILogger logger, string name, string reason);

    // Warning, not Information: a repair means someone else changed our tables (a flush, a firewall reload).
    [LoggerMessage(1005, LogLevel.Warning, "nftables tables {State} ({Differences}); repaired in {Milliseconds} ms ({Count} bindings)")]
    public static partial void Repaired(ILogger logger, string state, string differences, double milliseconds, int count);

    [LoggerMessage(1006, LogLevel.Warning, "Namespace of publication {Name} is gone ({Netns}); unpublished it")]
    public static partial void NamespaceGone(ILogger logger, string name, string netns);

    [LoggerMessage(1007, LogLevel.Error, "nftables unavailable ({Error}): every binding uses the userland proxy")]
    public static partial void NftablesUnavailable(ILogger logger, string error);

    [LoggerMessage(1008, LogLevel.Warning, "Could not set {Sysctl}: {Error}")]
    public static partial void SysctlFailed(ILogger logger, string sysctl, string error);

    [LoggerMessage(1009, LogLevel.Error, "Repairing nftables failed: {Error}")]
    public static partial void RepairFailed(ILogger logger, string error);

    [LoggerMessage(1010, LogLevel.Information, "Control API on unix:{Socket}; metrics {Metrics}")]
    public static partial void Listening(ILogger logger, string socket, string metrics);

    [LoggerMessage(1011, LogLevel.Error, "Publish {Name}: undoing {Step} failed: {Error}")]
    public static partial void UndoFailed(ILogger logger, string name, string step, string error);

    [LoggerMessage(1012, LogLevel.Warning, "Dropped {Command}: its caller gave up before it ran; nothing was changed")]
    public static partial void CommandDropped(ILogger logger, string command);

    [LoggerMessage(1013, LogLevel.Warning, "{Command} completed after its caller gave up; its result stands")]
    public static partial void CommandOutlivedCaller(ILogger logger, string command);

    [LoggerMessage(1014, LogLevel.Error, "{Command} failed: {Error}")]
    public static partial void CommandFailed(ILogger logger, string command, string error);

    [LoggerMessage(1015, LogLevel.Error, "The writer did not finish its command within {Seconds} s of the stop; stopping without it")]
    public static partial void WriterStopTimedOut(ILogger logger, double seconds);

    [LoggerMessage(1016, LogLevel.Error, "Publication {Name}: the proxy did not confirm stopping {Listen} within {Seconds} s; its listener is closed regardless")]
    public static partial void ProxyStopTimedOut(ILogger logger, string name, string listen, double seconds);

    [LoggerMessage(1017, LogLevel.Error, "The proxy did not stop within {Seconds} s of the stop; exiting without it")]
    public static partial void ProxyShutdownTimedOut(ILogger logger, double seconds);

    [LoggerMessage(1018, LogLevel.Error, "Cannot write state: {Error}")]
    public static partial void StateWriteFailed(ILogger logger, string error);

    [LoggerMessage(1019, LogLevel.Warning, "Publish {Name}: {Warning}")]
    public static partial void BindingSkipped(ILogger logger, string name, string warning);

    [LoggerMessage(1020, LogLevel.Error, "Publication {Name} is kept in state but not active: {Reason}; it is retried every 10 s and at the next start (unpublish it to drop it)")]
    public static partial void ParkedOnRestore(ILogger logger, string name, string reason);

    // Debug: a start that restores 10,000 publications must not write 10,000 lines (1003 sums them up).
    [LoggerMessage(1021, LogLevel.Debug, "Restored {Name}: {Bindings} bindings in {Milliseconds} ms")]
    public static partial void RestoredOne(ILogger logger, string name, int bindings, double milliseconds);

    [LoggerMessage(1022, LogLevel.Debug, "Publish {Name} steps (ms): {Steps}")]
    public static partial void PublishSteps(ILogger logger, string name, string steps);

    [LoggerMessage(1023, LogLevel.Debug, "Unpublish {Name} steps (ms): {Steps}")]
    public static partial void UnpublishSteps(ILogger logger, string name, string steps);

    [LoggerMessage(1090, LogLevel.Warning, "nftables tables are not protected ({Reason}): other tools can flush them; the self-repair rebuilds them")]
    public static partial void TablesNotProtected(ILogger logger, string reason);

    [LoggerMessage(1091, LogLevel.Information, "route_localnet on {Interface} set to {Value} ({Reason})")]
    public static partial void LocalnetChanged(ILogger logger, string @interface, string value, string reason);
}
