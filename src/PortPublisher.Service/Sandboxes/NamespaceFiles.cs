using System.Net;
using PortPublisher.Service.Publications;
using static PortPublisher.Service.Sandboxes.SandboxNative;

namespace PortPublisher.Service.Sandboxes;

/// <summary>
/// The file side of a sandbox, done as iproute2 does it (<c>ip/ipnetns.c</c>), on a <see cref="MountNamespaceRunner"/>
/// thread (each call may leave that thread in new namespaces; the thread ends with the call):
/// <list type="bullet">
/// <item><c>ip netns add</c>: the run directory made a shared mount (bind-mounted onto itself first if it is not a mount
/// point), the file created with O_EXCL, <c>unshare(CLONE_NEWNET)</c>, and the thread's namespace bind-mounted onto it.
/// /proc/thread-self, not ip's /proc/self: in a multi-threaded process "self" is the main thread.</item>
/// <item>A UTS pin, the same way with <c>unshare(CLONE_NEWUTS)</c> and <c>sethostname</c>.</item>
/// <item><c>ip netns del</c>: a lazy unmount (MNT_DETACH), then unlink.</item>
/// </list>
/// </summary>
internal static class NamespaceFiles
{
    /// <summary><c>ip netns add NAME</c>.</summary>
    public static void CreateNetworkNamespace(string runDir, string name) => CreatePinned(runDir, name, CLONE_NEWNET, "net", null);

    /// <summary>A new UTS namespace named <paramref name="hostname"/>, pinned at <paramref name="dir"/>/<paramref name="name"/>.</summary>
    public static void CreateUtsNamespace(string dir, string name, string hostname) => CreatePinned(dir, name, CLONE_NEWUTS, "uts", hostname);

    /// <summary><c>ip netns attach</c>-like: <paramref name="source"/> (another namespace file) bind-mounted at runDir/name.</summary>
    public static void BindExisting(string source, string runDir, string name)
    {
        string path = CreateFile(runDir, name);
        try
        {
            Check(mount(source, path, "none", MS_BIND, IntPtr.Zero), $"mount --bind {source} {path}");
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    /// <summary><c>ip netns del</c> for one file: lazy unmount, then unlink; a file that is not there is fine.</summary>
    public static void Remove(string path)
    {
        if (umount2(path, MNT_DETACH) < 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno is not (EINVAL or ENOENT))
            {
                throw new IOException($"umount {path}: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}", errno);
            }
        }

        File.Delete(path);
    }

    /// <summary>Whether <paramref name="path"/> is a live namespace file (a mount of nsfs, not a leftover empty file).</summary>
    public static bool IsNamespace(string path)
    {
        try
        {
            using Netlink.NetworkNamespace ns = Netlink.NetworkNamespace.Open(path);
            return true;
        }
        catch (Netlink.NetworkNamespaceNotFoundException)
        {
            return false;
        }
    }

    /// <summary>The namespace's identity as "device:inode" (of nsfs), or null when <paramref name="path"/> is no live namespace file.</summary>
    public static string? Identity(string path)
    {
        if (!IsNamespace(path))
        {
            return null;
        }

        (ulong device, ulong inode) = Stat(path) ?? (0, 0);
        return device == 0 ? null : FormattableString.Invariant($"{device}:{inode}");
    }

    /// <summary>
    /// The processes whose network namespace is <paramref name="identity"/> ("device:inode"), as <c>ip netns pids</c>
    /// finds them: by stat of each /proc/PID/ns/net. The service itself is left out (its threads enter namespaces only
    /// for a moment, and its main thread never). With <paramref name="etcDir"/>, only those whose mounts include files of
    /// that directory: the processes that entered through one sandbox of a shared namespace (<c>exec</c> bind-mounts
    /// its /etc/netns/NAME files over /etc, in a mount namespace of the process's own).
    /// </summary>
    public static List<(int Pid, string Command)> ProcessesIn(string identity, string? etcDir = null)
    {
        var found = new List<(int, string)>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            if (Stat(Path.Combine(dir, "ns", "net")) is (ulong device, ulong inode) && FormattableString.Invariant($"{device}:{inode}") == identity
                && (etcDir is null || MountsFrom(dir, etcDir)))
            {
                string comm;
                try
                {
                    comm = File.ReadAllText(Path.Combine(dir, "comm")).TrimEnd('\n');
                }
                catch (IOException)
                {
                    comm = "?";
                }

                found.Add((pid, comm));
            }
        }

        return found;
    }

    /// <summary>
    /// Undoes <see cref="MakeShared"/> for a directory left empty (the UTS pins' when the last sandbox goes), so that
    /// removing it (a package purge, rm -rf) does not fail with EBUSY. A directory that is not a mount point is fine.
    /// </summary>
    public static void ReleaseIfEmpty(string dir)
    {
        if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any())
        {
            _ = umount2(dir, MNT_DETACH);
        }
    }

    /// <summary>Whether <paramref name="path"/> is a pinned UTS namespace (nsfs shows an empty regular file when unpinned).</summary>
    public static bool IsPinned(string path) =>
        File.Exists(path) && File.ReadAllLines("/proc/thread-self/mountinfo").Any(l => l.Split(' ') is { Length: > 4 } f && f[4] == path);

    /// <summary>/etc/netns/NAME with its files (0644, in a 0755 directory, as ip's users write them).</summary>
    public static void WriteEtc(string etcDir, string name, IReadOnlyDictionary<string, string> files)
    {
        string dir = Path.Combine(etcDir, name);
        if (Directory.Exists(dir))
        {
            throw new PublishException(HttpStatusCode.Conflict, $"{dir} already exists (left by another tool?); remove it or choose another name");
        }

        Directory.CreateDirectory(dir, (UnixFileMode)0x1ED /* 0755 */);
        foreach ((string file, string content) in files)
        {
            string path = Path.Combine(dir, file);
            File.WriteAllText(path, content);
            File.SetUnixFileMode(path, (UnixFileMode)0x1A4 /* 0644 */);
        }
    }

    /// <summary>The files of /etc/netns/NAME, to share with a sandbox that joins it.</summary>
    public static Dictionary<string, string> ReadEtc(string etcDir, string name)
    {
        string dir = Path.Combine(etcDir, name);
        return Directory.Exists(dir) ? Directory.EnumerateFiles(dir).ToDictionary(f => Path.GetFileName(f), File.ReadAllText) : [];
    }

    public static void RemoveEtc(string etcDir, string name)
    {
        string dir = Path.Combine(etcDir, name);
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Whether a process's mounts include a bind mount of a file under <paramref name="etcDir"/> (mountinfo's root field).</summary>
    private static bool MountsFrom(string procDir, string etcDir)
    {
        try
        {
            string prefix = etcDir.TrimEnd('/') + "/";
            return File.ReadLines(Path.Combine(procDir, "mountinfo")).Any(l => l.Split(' ') is { Length: > 4 } f && f[3].StartsWith(prefix, StringComparison.Ordinal));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static unsafe (ulong Device, ulong Inode)? Stat(string path)
    {
        Tmds.Linux.stat st;
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(path + "\0"))
        {
            return Tmds.Linux.LibC.stat(p, &st) == 0 ? ((ulong)st.st_dev, (ulong)st.st_ino) : null;
        }
    }

    private static void CreatePinned(string dir, string name, int kind, string nsName, string? hostname)
    {
        string path = CreateFile(dir, name);
        try
        {
            Check(unshare(kind), $"unshare({nsName})");
            if (hostname is not null)
            {
                Check(sethostname(hostname, (nuint)System.Text.Encoding.UTF8.GetByteCount(hostname)), $"sethostname({hostname})");
            }

            Check(mount($"/proc/thread-self/ns/{nsName}", path, "none", MS_BIND, IntPtr.Zero), $"mount --bind /proc/thread-self/ns/{nsName} {path}");
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    /// <summary>The shared run directory and an empty file in it, created exclusively (ip's exact error if it exists).</summary>
    private static string CreateFile(string dir, string name)
    {
        MakeShared(dir);
        string path = Path.Combine(dir, name);
        try
        {
            using FileStream f = new(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.None });
        }
        catch (IOException) when (File.Exists(path))
        {
            throw new PublishException(HttpStatusCode.Conflict, $"Cannot create namespace file \"{path}\": File exists");
        }

        return path;
    }

    /// <summary>
    /// As ip does for /run/netns: a shared mount, so that a namespace mounted in it later reaches every mount namespace
    /// that has a copy of it (a slave copy in a service's sandbox included).
    /// </summary>
    private static void MakeShared(string dir)
    {
        Directory.CreateDirectory(dir, (UnixFileMode)0x1ED /* 0755 */);
        if (mount(string.Empty, dir, "none", MS_SHARED | MS_REC, IntPtr.Zero) == 0)
        {
            return;
        }

        int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
        if (errno != EINVAL)
        {
            throw new IOException($"mount --make-rshared {dir}: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }

        // Not a mount point yet: bind it onto itself, then make that shared.
        Check(mount(dir, dir, "none", MS_BIND | MS_REC, IntPtr.Zero), $"mount --rbind {dir} {dir}");
        Check(mount(string.Empty, dir, "none", MS_SHARED | MS_REC, IntPtr.Zero), $"mount --make-rshared {dir}");
    }
}
