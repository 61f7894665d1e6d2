namespace PortPublisher.Cli;

/// <summary>
/// <c>-H</c>/<c>PORTPUBLISHER_HOST</c>: <c>unix:///path</c> or an absolute path, as docker's <c>-H</c> takes them. Only
/// Unix sockets: the control API has no authentication but the socket's permissions.
/// </summary>
public static class ServiceHost
{
    /// <summary>The socket path, or null with <paramref name="error"/> saying what is wrong (without naming the source).</summary>
    public static string? Parse(string host, out string? error)
    {
        ArgumentNullException.ThrowIfNull(host);
        string path = host;
        if (host.StartsWith("unix://", StringComparison.Ordinal))
        {
            path = host["unix://".Length..];
        }
        else if (host.Contains("://", StringComparison.Ordinal))
        {
            error = "only unix:// sockets are supported (unix:///path/to/socket)";
            return null;
        }

        if (!path.StartsWith('/'))
        {
            error = "use unix:///absolute/path/to/socket";
            return null;
        }

        error = null;
        return path;
    }
}
