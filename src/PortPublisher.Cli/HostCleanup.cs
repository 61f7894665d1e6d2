using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using PortPublisher.Core.Api;
using PortPublisher.Core.Sandboxes;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Nft;
using static Tmds.Linux.LibC;

namespace PortPublisher.Cli;

/// <summary>
/// <c>portpublisher cleanup</c>, for a host that stops using the service. While a service answers on the socket, every
/// sandbox is removed (joiners first) and every publication unpublished through it, and nothing else: its tables stay
/// (a running service rebuilds tables that others delete). Sandboxes (namespaces, veths, the bridge, /etc/netns files)
/// are only the service's to remove: with any left in the state, the leftovers are not touched. Once none answers, what it leaves behind goes: the <c>ip</c>/<c>ip6</c> nftables tables of this
/// network namespace (NAT'ed ports keep working until then), the state file, and a stale socket. A service that holds
/// the table or the state directory but does not answer is never worked around: cleanup takes the same two locks the
/// service takes at start (the table's abstract socket, the directory's flock) and holds them while it removes, so no
/// service can start in the middle. One sysctl is undone: route_localnet on the links the service turned it on for (its
/// stop does that, a kill -9 does not), before the tables and with them the loopback guard go, since that setting
/// without the guard lets packets to 127.0.0.0/8 in from those links (CVE-2020-8558). ip_forward and IPv6 forwarding are
/// left as they are: other software may rely on them.
/// </summary>
/// <remarks>The only verb that loads PortPublisher.Netlink; the others never touch it, so they start as fast as before.</remarks>
internal sealed partial class HostCleanup(TextWriter stdout, TextWriter stderr)
{
    private const int LOCK_EX = 2;
    private const int LOCK_NB = 4;

    private static readonly string[] s_stateFiles =
    [
        ServiceFootprint.StateFile, ServiceFootprint.StateFile + ".tmp", ServiceFootprint.StateJournal, ServiceFootprint.SandboxFile, ServiceFootprint.SandboxFile + ".tmp", ServiceFootprint.LocalnetFile, ServiceFootprint.LocalnetFile + ".tmp", ServiceFootprint.StateLockFile,
    ];

    /// <summary>The service's rule for --table (OptionsCheck), so a name it could not have used is refused before anything.</summary>
    public static bool IsTableName(string name) => TablePattern().IsMatch(name);

    /// <summary>The command to run again, with the options this run was given (the defaults left out).</summary>
    private string _again = "portpublisher cleanup";

    public async Task<int> RunAsync(string socketPath, string table, string stateDir, CancellationToken ct)
    {
        _again = "portpublisher"
            + (socketPath == "/run/portpublisher/portpublisher.sock" ? string.Empty : $" -H unix://{socketPath}")
            + " cleanup"
            + (table == "portpublisher" ? string.Empty : $" --table {table}")
            + (stateDir == "/var/lib/portpublisher" ? string.Empty : $" --state-dir {stateDir}");
        using (var client = new ServiceClient(socketPath))
        {
            List<PublicationDto>? all = null;
            try
            {
                all = await client.ListAsync(ct);
            }
            catch (ServiceAccessDeniedException e)
            {
                await stderr.WriteLineAsync($"portpublisher: {e.Message}");
                return ExitCodes.NoPermission;
            }
            catch (ServiceUnavailableException)
            {
                // Not running (or not answering): the leftovers below, if the locks say nobody holds them.
            }
            catch (ServiceErrorException e)
            {
                await stderr.WriteLineAsync($"portpublisher: the service at {socketPath} refused to list its publications: {e.Message}; nothing was removed");
                return ExitCodes.Failed;
            }

            if (all is not null)
            {
                int sandboxes = await RemoveSandboxesAsync(client, ct);
                int unpublished = await UnpublishAllAsync(client, sandboxes == ExitCodes.Ok ? await client.ListAsync(ct) : all, ct);
                return Math.Max(sandboxes, unpublished);
            }
        }

        return await RemoveLeftoversAsync(socketPath, table, stateDir);
    }

    /// <summary>Removes every sandbox through the service, those that join another (container:OTHER) first.</summary>
    private async Task<int> RemoveSandboxesAsync(ServiceClient client, CancellationToken ct)
    {
        List<SandboxDto> all;
        try
        {
            all = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "v1/sandboxes"), SandboxJsonContext.Default.ListSandboxDto, ct);
        }
        catch (ServiceErrorException e) when (e.Status == HttpStatusCode.NotFound)
        {
            return ExitCodes.Ok; // a service without sandboxes
        }

        // Joiners before what they join, however deep the chain; and by force: cleanup removes everything, and what
        // still runs in a sandbox would lose its network anyway.
        Dictionary<string, string> joins = all.Where(s => s.Joins).ToDictionary(s => s.Name, s => s.Network[NetworkMode.ContainerPrefix.Length..], StringComparer.Ordinal);
        int Depth(string n)
        {
            int d = 0;
            for (string? at = n; joins.TryGetValue(at, out string? up) && d <= joins.Count; at = up)
            {
                d++;
            }

            return d;
        }

        int code = ExitCodes.Ok;
        foreach (SandboxDto s in all.OrderByDescending(s => Depth(s.Name)).ThenBy(s => s.Name, StringComparer.Ordinal))
        {
            try
            {
                await client.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"v1/sandboxes/{Uri.EscapeDataString(s.Name)}?force=true"), SandboxJsonContext.Default.SandboxDto, ct);
                await stdout.WriteLineAsync($"removed sandbox {s.Name}");
            }
            catch (ServiceErrorException e) when (e.Status == HttpStatusCode.NotFound)
            {
            }
            catch (ServiceErrorException e)
            {
                await stderr.WriteLineAsync($"portpublisher: sandbox rm {s.Name}: {e.Message}");
                code = ExitCodes.Failed;
            }
        }

        return code;
    }

    private async Task<int> UnpublishAllAsync(ServiceClient client, List<PublicationDto> all, CancellationToken ct)
    {
        int failed = 0;
        foreach (PublicationDto p in all.OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            try
            {
                await client.DeleteAsync(p.Name, ct);
                await stdout.WriteLineAsync($"unpublished {p.Name}");
            }
            catch (ServiceErrorException e) when (e.Status == HttpStatusCode.NotFound)
            {
                // Gone meanwhile (its namespace was deleted, someone else unpublished it): what was wanted.
            }
            catch (ServiceErrorException e)
            {
                await stderr.WriteLineAsync($"portpublisher: unpublish {p.Name}: {e.Message}");
                failed++;
            }
        }

        string where = "its tables";
        try
        {
            StatusDto s = await client.StatusAsync(ct);
            where = s.Table is null ? where : $"its nftables tables ip/ip6 {s.Table}{(s.StateDir is null ? string.Empty : $" and state in {s.StateDir}")}";
        }
        catch (Exception e) when (e is ServiceErrorException or ServiceUnavailableException)
        {
        }

        await stdout.WriteLineAsync(
            $"portpublisherd is running: {where} stay while it runs ({(all.Count - failed == 0 ? "nothing is published" : "now empty")}). "
            + $"Stop it (systemctl stop portpublisher, or end the portpublisherd you started), then run `{_again}` again to remove them.");
        return failed == 0 ? ExitCodes.Ok : ExitCodes.Failed;
    }

    private async Task<int> RemoveLeftoversAsync(string socketPath, string table, string stateDir)
    {
        using Socket? tableLock = TryHoldTableLock(table, out string holder);
        if (tableLock is null)
        {
            await stderr.WriteLineAsync($"portpublisher: a portpublisherd{holder} in this network namespace manages nftables table '{table}' but does not answer on {socketPath}; stop it first (or pass its socket with -H); nothing was removed");
            return ExitCodes.Failed;
        }

        int dirFd = -1;
        try
        {
            if (Directory.Exists(stateDir))
            {
                (dirFd, int error) = LockDirectory(stateDir);
                if (dirFd < 0)
                {
                    bool denied = error == EACCES || error == EPERM;
                    await stderr.WriteLineAsync(error == EWOULDBLOCK
                        ? $"portpublisher: a portpublisherd{ReadHolder(stateDir)} is using state directory {stateDir}; stop it first; nothing was removed"
                        : denied
                            ? $"portpublisher: permission denied on state directory {stateDir}: run cleanup as root; nothing was removed"
                            : $"portpublisher: cannot lock state directory {stateDir}: {Marshal.GetPInvokeErrorMessage(error)}; nothing was removed");
                    return denied ? ExitCodes.NoPermission : ExitCodes.Failed;
                }
            }

            var removed = new List<string>();
            foreach (string link in LocalnetLinks(stateDir))
            {
                string key = $"/proc/sys/net/ipv4/conf/{link}/route_localnet";
                try
                {
                    if (File.Exists(key) && File.ReadAllText(key).Trim() == "1")
                    {
                        await File.WriteAllTextAsync(key, "0");
                        removed.Add(key);
                        await stdout.WriteLineAsync($"reset net.ipv4.conf.{link}.route_localnet to 0");
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // The guard must not go while the setting stays: stop before the tables.
                    await stderr.WriteLineAsync($"portpublisher: cannot reset net.ipv4.conf.{link}.route_localnet ({e.Message}); the nftables tables, whose loopback guard it needs, were kept");
                    return e is UnauthorizedAccessException ? ExitCodes.NoPermission : ExitCodes.Failed;
                }
            }

            if (LeftSandboxes(stateDir) is { Count: > 0 } sandboxes)
            {
                await stderr.WriteLineAsync(
                    $"portpublisher: {sandboxes.Count} sandbox{(sandboxes.Count == 1 ? " remains" : "es remain")} ({string.Join(", ", sandboxes)}) in {stateDir}, and only the service can remove them: "
                    + $"start it, run `{_again}` (it removes them through the service), stop it and run it again; nothing was removed");
                return ExitCodes.Failed;
            }

            IReadOnlyList<string> tables;
            try
            {
                using var nft = new NftablesBackend(null, new NftablesOptions { TableName = table });
                tables = nft.RemoveTables();
            }
            catch (NetlinkException e) when (e.IsPermissionDenied)
            {
                await stderr.WriteLineAsync($"portpublisher: permission denied removing nftables tables ip/ip6 {table}: run cleanup as root (CAP_NET_ADMIN); nothing was removed");
                return ExitCodes.NoPermission;
            }
            catch (NetlinkException e)
            {
                await stderr.WriteLineAsync($"portpublisher: cannot remove nftables tables ip/ip6 {table}: {e.Message}; nothing was removed");
                return ExitCodes.Failed;
            }

            foreach (string t in tables)
            {
                removed.Add(t);
                await stdout.WriteLineAsync($"removed nftables table {t}");
            }

            int failed = 0;
            foreach (string path in s_stateFiles.Select(f => Path.Combine(stateDir, f)).Where(File.Exists))
            {
                try
                {
                    File.Delete(path);
                    removed.Add(path);
                    await stdout.WriteLineAsync($"removed {path}");
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    await stderr.WriteLineAsync($"portpublisher: cannot remove {path}: {e.Message}");
                    failed++;
                }
            }

            if (dirFd >= 0 && failed == 0 && !Directory.EnumerateFileSystemEntries(stateDir).Any())
            {
                Directory.Delete(stateDir);
                removed.Add(stateDir);
                await stdout.WriteLineAsync($"removed {stateDir}/");
            }

            if (IsStaleSocket(socketPath))
            {
                File.Delete(socketPath);
                removed.Add(socketPath);
                await stdout.WriteLineAsync($"removed stale socket {socketPath}");
            }

            if (removed.Count == 0)
            {
                await stdout.WriteLineAsync($"nothing to clean up: no nftables tables ip/ip6 {table} in this network namespace, no state in {stateDir}");
            }

            return failed == 0 ? ExitCodes.Ok : ExitCodes.Failed;
        }
        finally
        {
            if (dirFd >= 0)
            {
                _ = close(dirFd);
            }
        }
    }

    /// <summary>
    /// Binds the table's abstract address as the service does (NamespaceTableLock): while cleanup holds it no service
    /// can take the table. Null when a live process holds it, with <paramref name="holder"/> its PID (SO_PEERCRED).
    /// </summary>
    private static Socket? TryHoldTableLock(string table, out string holder)
    {
        var address = new UnixDomainSocketEndPoint(ServiceFootprint.TableLockAddress(table));
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(address);
            socket.Listen(1);
            holder = string.Empty;
            return socket;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            holder = PeerPid(address);
            return null;
        }
    }

    private static string PeerPid(UnixDomainSocketEndPoint address)
    {
        try
        {
            // Non-blocking: probes wait in the holder's accept queue, and a blocking connect to a full one never returns.
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
            probe.Connect(address);
            byte[] cred = new byte[12]; // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
            return probe.GetRawSocketOption(1 /* SOL_SOCKET */, 17 /* SO_PEERCRED */, cred) >= 4 && BitConverter.ToInt32(cred, 0) is > 0 and int pid
                ? string.Create(CultureInfo.InvariantCulture, $" (PID {pid})")
                : string.Empty;
        }
        catch (SocketException)
        {
            return string.Empty;
        }
    }

    /// <summary>The service's lock (StateDirectoryLock): an exclusive flock on the directory itself. The fd, or -1 and the errno.</summary>
    private static unsafe (int Fd, int Errno) LockDirectory(string dir)
    {
        int fd;
        fixed (byte* d = Encoding.UTF8.GetBytes(dir + "\0"))
        {
            fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        }

        if (fd < 0)
        {
            return (-1, errno);
        }

        if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        {
            int error = Marshal.GetLastPInvokeError();
            _ = close(fd);
            return (-1, error);
        }

        return (fd, 0);
    }

    /// <summary>The sandboxes named in STATE_DIR/sandboxes.json; an unreadable file counts as one nameless sandbox (never guessed away).</summary>
    private static List<string> LeftSandboxes(string stateDir)
    {
        string path = Path.Combine(stateDir, ServiceFootprint.SandboxFile);
        if (!File.Exists(path))
        {
            return [];
        }

        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(path));
            return doc.RootElement.TryGetProperty("sandboxes", out System.Text.Json.JsonElement list) && list.ValueKind == System.Text.Json.JsonValueKind.Array
                ? [.. list.EnumerateArray().Select(s => s.TryGetProperty("name", out System.Text.Json.JsonElement n) ? n.GetString() ?? "?" : "?")]
                : ["?"];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            return [$"{path} unreadable: {e.Message}"];
        }
    }

    /// <summary>The links listed in the service's route_localnet file, names only (as the service reads them).</summary>
    private static IEnumerable<string> LocalnetLinks(string stateDir)
    {
        try
        {
            return [.. File.ReadAllLines(Path.Combine(stateDir, ServiceFootprint.LocalnetFile)).Where(l => l.Length > 0 && !l.Contains('/') && !l.Contains("..", StringComparison.Ordinal))];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static string ReadHolder(string stateDir)
    {
        try
        {
            // File.ReadAllText takes no lock of its own on Linux reads that matters here: the service's lock is on the directory.
            string text = File.ReadAllText(Path.Combine(stateDir, ServiceFootprint.StateLockFile)).Trim();
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? $" (PID {pid})" : string.Empty;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }

    /// <summary>A socket file nobody listens on (a service that was killed): connecting is refused.</summary>
    private static bool IsStaleSocket(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        try
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return false;
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode == SocketError.ConnectionRefused; // EAGAIN: a full queue, so someone listens
        }
    }

    [GeneratedRegex(@"\A[a-zA-Z][a-zA-Z0-9_-]{0,30}\z", RegexOptions.CultureInvariant)]
    private static partial Regex TablePattern();

    // flock(2), which Tmds.LibC does not bind (the service's FileLockNative has the same two lines).
    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int flock(int fd, int operation);
}
