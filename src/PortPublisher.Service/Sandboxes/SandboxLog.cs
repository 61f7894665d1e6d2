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

    [LoggerMessage(3007, LogLevel.Warning, "Sandbox {Name}: the {Phase} it was in when the service stopped is finished now (every part it names removed)")]
    public static partial void Recovered(ILogger logger, string name, string phase);

    [LoggerMessage(3008, LogLevel.Warning, "Sandbox {Name}: {Path} is another namespace now (made by someone else after ours went); left alone")]
    public static partial void Replaced(ILogger logger, string name, string path);

    [LoggerMessage(3009, LogLevel.Warning, "Bridge {Bridge} was deleted behind the service's back; made again with {Subnet} and {Count} sandbox veths re-attached")]
    public static partial void BridgeRepaired(ILogger logger, string bridge, string subnet, int count);

    [LoggerMessage(3010, LogLevel.Information, "Sandbox files are made in {MountNamespace} (held open from the start): the service runs in a mount namespace of its own, whose mounts the host would not see")]
    public static partial void HostMounts(ILogger logger, string mountNamespace);

    [LoggerMessage(3011, LogLevel.Warning, "Sandbox {Name}: killed {Count} processes still in it (rm --force): {Pids}")]
    public static partial void Killed(ILogger logger, string name, int count, string pids);
}
