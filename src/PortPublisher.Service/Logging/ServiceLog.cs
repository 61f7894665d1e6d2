using Microsoft.Extensions.Logging;

namespace PortPublisher.Service.Logging;

/// <summary>Service log events, IDs 1000–1099. Publish and unpublish are Information.</summary>
internal static partial class ServiceLog
{
    [LoggerMessage(1000, LogLevel.Information, "Published {Name} in {Netns} ({Milliseconds} ms): {Bindings}")]
    public static partial void Published(ILogger logger, string name, string netns, double milliseconds, string bindings);

    [LoggerMessage(1001, LogLevel.Information, "Unpublished {Name}")]
    public static partial void Unpublished(ILogger logger, string name);

    [LoggerMessage(1002, LogLevel.Warning, "Publish {Name} failed: {Error}")]
    public static partial void PublishFailed(ILogger logger, string name, string error);

    [LoggerMessage(1003, LogLevel.Information, "Restored {Count} publications with {Bindings} bindings; nftables {State}")]
    public static partial void Restored(ILogger logger, int count, int bindings, string state);

    [LoggerMessage(1004, LogLevel.Warning, "Dropped publication {Name} on restore: {Reason}")]
    public static partial void DroppedOnRestore(ILogger logger, string name, string reason);

    [LoggerMessage(1005, LogLevel.Warning, "nftables tables {State} ({Differences}); repaired in {Milliseconds} ms")]
    public static partial void Repaired(ILogger logger, string state, string differences, double milliseconds);

    [LoggerMessage(1006, LogLevel.Warning, "Namespace of publication {Name} is gone ({Netns}); unpublished it")]
    public static partial void NamespaceGone(ILogger logger, string name, string netns);

    [LoggerMessage(1007, LogLevel.Error, "nftables unavailable ({Error}): every binding uses the userland proxy")]
    public static partial void NftablesUnavailable(ILogger logger, string error);

    [LoggerMessage(1008, LogLevel.Warning, "Could not set {Sysctl}: {Error}")]
    public static partial void SysctlFailed(ILogger logger, string sysctl, string error);

    [LoggerMessage(1009, LogLevel.Error, "Repairing nftables failed: {Error}")]
    public static partial void RepairFailed(ILogger logger, string error);

    [LoggerMessage(1010, LogLevel.Information, "Control API on unix:{Socket}; metrics on {Metrics}")]
    public static partial void Listening(ILogger logger, string socket, string metrics);
}
