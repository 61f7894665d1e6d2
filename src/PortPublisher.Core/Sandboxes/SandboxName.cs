namespace PortPublisher.Core.Sandboxes;

/// <summary>
/// Sandbox names are <c>ip netns</c> names (iproute2 <c>ip/ipnetns.c</c> <c>is_valid_netns_name</c>): not empty, at most
/// NAME_MAX bytes, no '/', not "." or "..". The name is a file under /run/netns and a directory under /etc/netns.
/// Stricter than ip in one way: no control characters (ip takes a newline, which then splits <c>ip netns list</c>).
/// </summary>
public static class SandboxName
{
    /// <summary>NAME_MAX: the longest file name.</summary>
    public const int MaxBytes = 255;

    /// <summary>Null when valid, else iproute2's own wording.</summary>
    public static string? Check(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "Invalid netns name \"\": a sandbox name is required";
        }

        if (System.Text.Encoding.UTF8.GetByteCount(name) > MaxBytes || name.Contains('/', StringComparison.Ordinal) || name is "." or ".."
            || name.Contains('\0', StringComparison.Ordinal))
        {
            return $"Invalid netns name \"{name}\"";
        }

        if (name.Any(char.IsControl))
        {
            return $"Invalid netns name {Specs.GoNet.Quote(name)}: no control characters";
        }

        return null;
    }
}
