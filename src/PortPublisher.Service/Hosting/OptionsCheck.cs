using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using PortPublisher.Core.Publications;
using PortPublisher.Service.Options;

namespace PortPublisher.Service.Hosting;

/// <summary>
/// Checks the settings from every source before anything is touched: each bad one gets a line naming the option and
/// the value, and the service exits 2 without a stack trace.
/// </summary>
internal static partial class OptionsCheck
{
    public static IReadOnlyList<string> Problems(PortPublisherOptions o, string? hostMountNamespace = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(o.Socket))
        {
            problems.Add("invalid --socket \"\": a path is required");
        }

        if (string.IsNullOrWhiteSpace(o.StateDir))
        {
            problems.Add("invalid --state-dir \"\": a directory is required");
        }

        if (!string.IsNullOrEmpty(o.Metrics) && !TryMetricsEndPoint(o.Metrics, out _))
        {
            problems.Add($"invalid --metrics \"{o.Metrics}\": use ADDR:PORT, such as 127.0.0.1:9469 or [::1]:9469 (empty: off)");
        }

        if (!PublishModeNames.TryParse(o.Mode, out _))
        {
            problems.Add($"invalid --mode \"{o.Mode}\": use auto, nat or proxy");
        }

        if (!string.IsNullOrEmpty(o.DynamicPorts) && !TryRange(o.DynamicPorts, out _, out _))
        {
            problems.Add($"invalid --dynamic-ports \"{o.DynamicPorts}\": use START-END with 1 <= START <= END <= 65535, such as 49153-65535");
        }

        if (!TablePattern().IsMatch(o.Table ?? string.Empty))
        {
            problems.Add($"invalid --table \"{o.Table}\": a letter, then up to 30 letters, digits, '_' or '-'");
        }

        if (!string.IsNullOrEmpty(o.SocketGroup) && getgrnam(o.SocketGroup) == 0)
        {
            problems.Add($"invalid --socket-group \"{o.SocketGroup}\": no such group");
        }

        if (hostMountNamespace is { Length: > 0 } and not ("auto" or "self") && MountNamespaceProblem(hostMountNamespace) is string why)
        {
            problems.Add($"invalid --host-mount-namespace \"{hostMountNamespace}\": {why}");
        }

        if (o.MaxConnections is < 1 or > 1_048_576)
        {
            problems.Add($"invalid --max-connections \"{o.MaxConnections.ToString(CultureInfo.InvariantCulture)}\": use 1 to 1048576");
        }

        return problems;
    }

    /// <summary>Why the path cannot serve as the host's mount namespace (opened the way sandboxes open it), or null.</summary>
    private static string? MountNamespaceProblem(string path)
    {
        try
        {
            using Microsoft.Win32.SafeHandles.SafeFileHandle h = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            return File.ResolveLinkTarget(path, returnFinalTarget: false)?.Name is string target && !target.StartsWith("mnt:", StringComparison.Ordinal)
                ? $"it is {target}, not a mount namespace (use /proc/PID/ns/mnt of a process in the host's mount namespace)"
                : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"{e.Message.TrimEnd('.')} (use /proc/PID/ns/mnt of a process in the host's mount namespace; opening PID 1's needs CAP_SYS_PTRACE when the service has fewer capabilities than it)";
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static partial nint getgrnam(string name);

    public static bool TryMetricsEndPoint(string text, out IPEndPoint? endPoint) =>
        IPEndPoint.TryParse(text, out endPoint) && endPoint.Port is > 0;

    public static bool TryRange(string text, out ushort start, out ushort end)
    {
        start = end = 0;
        string[] f = text.Split('-');
        return f.Length == 2
            && ushort.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out start)
            && ushort.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out end)
            && start >= 1 && start <= end;
    }

    [GeneratedRegex(@"\A[a-zA-Z][a-zA-Z0-9_-]{0,30}\z", RegexOptions.CultureInvariant)]
    private static partial Regex TablePattern();
}
