namespace PortPublisher.Cni.Spec;

/// <summary>
/// The spec versions the plugin speaks: 0.4.0 (what Podman 4's generated networks say), 1.0.0 (Debian's libcni 1.1.2
/// stops there) and 1.1.0 (STATUS, GC). Their results have the same shape for what a chained plugin passes through.
/// </summary>
internal static class CniVersion
{
    public static readonly string[] Supported = ["0.4.0", "1.0.0", "1.1.0"];

    public static bool IsSupported(string version) => Array.IndexOf(Supported, version) >= 0;

    /// <summary>True when <paramref name="version"/> is at least <paramref name="minimum"/> (both dotted numbers).</summary>
    public static bool AtLeast(string version, string minimum)
    {
        ArgumentNullException.ThrowIfNull(version);
        ArgumentNullException.ThrowIfNull(minimum);
        int[]? a = Parse(version), b = Parse(minimum);
        if (a is null || b is null)
        {
            return false;
        }

        for (int i = 0; i < 3; i++)
        {
            if (a[i] != b[i])
            {
                return a[i] > b[i];
            }
        }

        return true;
    }

    private static int[]? Parse(string v)
    {
        string[] parts = v.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }

        var n = new int[3];
        for (int i = 0; i < 3; i++)
        {
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out n[i]))
            {
                return null;
            }
        }

        return n;
    }
}
