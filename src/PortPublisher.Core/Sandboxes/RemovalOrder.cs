namespace PortPublisher.Core.Sandboxes;

/// <summary>
/// The order sandboxes can be removed in: one that joins another (<c>--network container:OTHER</c>) before the one it
/// joins, however deep the chain (the service refuses a sandbox that others still join).
/// </summary>
public static class RemovalOrder
{
    /// <summary><paramref name="names"/>, deepest joiner first; otherwise in their given order.</summary>
    public static IEnumerable<string> Of(IEnumerable<SandboxDto> all, IEnumerable<string> names)
    {
        Dictionary<string, string> joins = all.Where(s => s.Joins).ToDictionary(s => s.Name, s => s.Network[NetworkMode.ContainerPrefix.Length..], StringComparer.Ordinal);
        int Depth(string name)
        {
            // Bounded by the number of joins, so a cycle in a damaged list cannot loop.
            int d = 0;
            for (string at = name; joins.TryGetValue(at, out string? up) && d <= joins.Count; at = up)
            {
                d++;
            }

            return d;
        }

        return names.Distinct(StringComparer.Ordinal).OrderByDescending(Depth);
    }
}
