namespace PortPublisher.Core.Api;

/// <summary>
/// What a <c>portpublisherd</c> leaves on a host, by name: shared by the service, which makes these, and the CLI's
/// <c>cleanup</c>, which finds and removes them.
/// </summary>
public static class ServiceFootprint
{
    public const string DefaultSocket = "/run/portpublisher/portpublisher.sock";

    public const string DefaultStateDir = "/var/lib/portpublisher";

    /// <summary>The name of its <c>ip</c> and <c>ip6</c> nftables tables unless <c>--table</c> says otherwise.</summary>
    public const string DefaultTable = "portpublisher";

    /// <summary>The state file in the state directory: a snapshot of the publications.</summary>
    public const string StateFile = "state.json";

    /// <summary>The journal of changes since that snapshot, beside it.</summary>
    public const string StateJournal = "state.journal";

    /// <summary>The sandboxes the service made (camelCase JSON, <c>{"version": 1, "sandboxes": [{"name": …}, …]}</c>).</summary>
    public const string SandboxFile = "sandboxes.json";

    /// <summary>The file in the state directory that names the PID holding the directory's lock.</summary>
    public const string StateLockFile = "lock";

    /// <summary>
    /// The file in the state directory that lists, one per line, the links whose <c>route_localnet</c> the service turned
    /// on (for NAT'ed 127.0.0.0/8 bindings); it resets them when it stops, but a <c>kill -9</c> leaves them on.
    /// </summary>
    public const string LocalnetFile = "route_localnet";

    /// <summary>
    /// The abstract Unix socket address a service listens on while it manages <paramref name="table"/> in its network
    /// namespace: the kernel keeps abstract addresses per namespace and frees them when the process dies.
    /// </summary>
    public static string TableLockAddress(string table) => $"\0portpublisherd/table/{table}";
}
