using System.Collections;
using System.Runtime.InteropServices;
using PortPublisher.Core.Sandboxes;

namespace PortPublisher.Cli;

/// <summary>
/// <c>portpublisher exec NAME CMD…</c>: the CLI itself (as root, like <c>ip netns exec</c>) enters the sandbox and
/// becomes CMD, so CMD's stdin, stdout, exit status and signals are the user's own, with no relay and no service
/// round trip for its lifetime. Done as iproute2's <c>netns_switch</c> does, on one thread that then execve(2)s
/// (namespaces are per thread; execve keeps the calling thread's): setns into the network namespace and into the UTS
/// namespace the service pins for the sandbox; unshare a mount namespace and make "/" a recursive slave first, so
/// nothing mounted next can propagate to the host; a sysfs of the sandbox's network on /sys; every file of
/// /etc/netns/NAME bind-mounted over /etc (hosts, resolv.conf, hostname). A host-mode sandbox runs CMD as it is.
/// </summary>
internal static class SandboxExec
{
    public const int NotFound = 127;
    public const int CannotRun = 126;

    /// <summary>Replaces this process with CMD; returns only with an exit code when it cannot (the error already written).</summary>
    public static int Run(SandboxDto sandbox, string[] command, TextWriter err)
    {
        if (ExecNative.geteuid() != 0)
        {
            err.WriteLine("portpublisher: exec needs root (CAP_SYS_ADMIN) to enter a sandbox's namespaces, as `ip netns exec` does");
            return ExitCodes.Failed;
        }

        string? path = Resolve(command[0]);
        if (path is null)
        {
            err.WriteLine($"portpublisher: exec: \"{command[0]}\": executable file not found in $PATH");
            return NotFound;
        }

        string? error = null;
        var thread = new Thread(() => error = Enter(sandbox, path, command)) { Name = "exec" };
        thread.Start();
        thread.Join();
        err.WriteLine($"portpublisher: exec {sandbox.Name}: {error}");
        return error?.StartsWith("execve", StringComparison.Ordinal) == true ? CannotRun : ExitCodes.Failed;
    }

    /// <summary>Returns only on failure, with what failed.</summary>
    private static string Enter(SandboxDto s, string path, string[] command)
    {
        if (s.Netns is not null)
        {
            if (Join(s.Netns, ExecNative.CLONE_NEWNET) is { } netError)
            {
                return netError;
            }

            if (s.UtsNamespace is not null && Join(s.UtsNamespace, ExecNative.CLONE_NEWUTS) is { } utsError)
            {
                return utsError;
            }

            if (ExecNative.unshare(ExecNative.CLONE_NEWNS) != 0)
            {
                return $"unshare(CLONE_NEWNS): {ExecNative.LastError()}";
            }

            // Before any mount: "/" a recursive slave, so our mounts never reach the host's mount namespace.
            if (ExecNative.mount(string.Empty, "/", "none", ExecNative.MS_SLAVE | ExecNative.MS_REC, IntPtr.Zero) != 0)
            {
                return $"mount --make-rslave /: {ExecNative.LastError()}";
            }

            // /sys of the sandbox's network (ip netns exec does the same); a /sys that was not mounted is fine.
            ulong flags = 0;
            if (ExecNative.umount2("/sys", ExecNative.MNT_DETACH) != 0)
            {
                flags = ExecNative.MS_RDONLY;
            }

            if (ExecNative.mount(s.Name, "/sys", "sysfs", flags, IntPtr.Zero) != 0)
            {
                return $"mount of /sys failed: {ExecNative.LastError()}";
            }

            if (s.EtcDir is not null && Directory.Exists(s.EtcDir))
            {
                foreach (string file in Directory.EnumerateFileSystemEntries(s.EtcDir))
                {
                    string target = Path.Combine("/etc", Path.GetFileName(file));
                    if (ExecNative.mount(file, target, "none", ExecNative.MS_BIND, IntPtr.Zero) != 0)
                    {
                        // ip netns exec's wording; like it, go on with the rest.
                        Console.Error.WriteLine($"Bind {file} -> {target} failed: {ExecNative.LastError()}");
                    }
                }
            }
        }

        IntPtr[] argv = Strings(command);
        IntPtr[] envp = Strings([.. Environment.GetEnvironmentVariables().Cast<DictionaryEntry>().Select(e => $"{e.Key}={e.Value}")]);
        ExecNative.execve(path, argv, envp);
        return $"execve {path}: {ExecNative.LastError()}";
    }

    private static string? Join(string nsPath, int type)
    {
        int fd = ExecNative.open(nsPath, ExecNative.O_RDONLY | ExecNative.O_CLOEXEC);
        if (fd < 0)
        {
            return $"cannot open {nsPath}: {ExecNative.LastError()}";
        }

        return ExecNative.setns(fd, type) == 0 ? null : $"setns({nsPath}): {ExecNative.LastError()}";
    }

    /// <summary>execvp's search: a name with '/' as it is, else the first executable file of that name on $PATH.</summary>
    private static string? Resolve(string name)
    {
        if (name.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(name) ? name : null;
        }

        string pathVar = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        foreach (string dir in pathVar.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate) && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
            {
                return candidate;
            }
        }

        return null;
    }

    // NUL-terminated UTF-8 strings and a final NULL, as execve wants; never freed (the process becomes CMD, or exits).
    private static IntPtr[] Strings(string[] values) => [.. values.Select(Marshal.StringToCoTaskMemUTF8), IntPtr.Zero];
}
