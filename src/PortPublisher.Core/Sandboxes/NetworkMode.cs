namespace PortPublisher.Core.Sandboxes;

/// <summary>Docker's four network modes: <c>bridge</c> (the default), <c>none</c>, <c>host</c> and <c>container:OTHER</c>.</summary>
public readonly record struct NetworkMode(NetworkModeKind Kind, string? Other = null)
{
    public const string ContainerPrefix = "container:";

    public static NetworkMode Bridge => new(NetworkModeKind.Bridge);

    public bool IsContainer => Kind == NetworkModeKind.Container;

    /// <summary>Parses <c>--network</c>; null or empty is bridge.</summary>
    public static bool TryParse(string? value, out NetworkMode mode, out string? error)
    {
        error = null;
        mode = Bridge;
        switch (value)
        {
            case null or "" or "bridge" or "default":
                return true;
            case "none":
                mode = new NetworkMode(NetworkModeKind.None);
                return true;
            case "host":
                mode = new NetworkMode(NetworkModeKind.Host);
                return true;
        }

        if (value.StartsWith(ContainerPrefix, StringComparison.Ordinal))
        {
            string other = value[ContainerPrefix.Length..];
            if (SandboxName.Check(other) is { } bad)
            {
                // Docker's text for an empty one: "--network: invalid net mode: invalid container format container:<name|id>".
                error = other.Length == 0 ? "invalid --network \"container:\": invalid container format container:<name|id>" : $"invalid --network \"{value}\": {bad}";
                return false;
            }

            mode = new NetworkMode(NetworkModeKind.Container, other);
            return true;
        }

        error = $"invalid --network \"{value}\": use bridge, none, host or container:NAME";
        return false;
    }

    public override string ToString() => Kind switch
    {
        NetworkModeKind.Bridge => "bridge",
        NetworkModeKind.None => "none",
        NetworkModeKind.Host => "host",
        _ => ContainerPrefix + Other,
    };
}
