using Microsoft.Extensions.Logging;

namespace PortPublisher.Service.Sandboxes;

/// <summary>Sandbox events, IDs 3000–3099.</summary>
internal static partial class SandboxLog
{
    [LoggerMessage(3000, LogLevel.Information, "Sandbox {Name} created ({Network}, {Address}, hostname {Hostname})")]
    public static partial void Created(ILogger logger, string name, string network, string address, string hostname);

    [LoggerMessage(3001, LogLevel.Information, "Sandbox {Name} removed")]
    public static partial void Removed(ILogger logger, string name);

    [LoggerMessage(3002, LogLevel.Warning, "Sandbox {Name} create failed at {Step}: {Error}")]
    public static partial void CreateFailed(ILogger logger, string name, string step, string error);

    [LoggerMessage(3003, LogLevel.Warning, "Sandbox {Name}: removing {What} failed: {Error}")]
    public static partial void CleanupFailed(ILogger logger, string name, string what, string error);

    [LoggerMessage(3004, LogLevel.Information, "Restored {Count} sandboxes from {Path}")]
    public static partial void Restored(ILogger logger, int count, string path);

    [LoggerMessage(3005, LogLevel.Warning, "Sandbox {Name}: {What} is gone ({Path}); `portpublisher sandbox rm {Name}` removes the rest")]
    public static partial void Lost(ILogger logger, string name, string what, string path);

    [LoggerMessage(3006, LogLevel.Warning, "Sandboxes: {Message}")]
    public static partial void Warning(ILogger logger, string message);
}
