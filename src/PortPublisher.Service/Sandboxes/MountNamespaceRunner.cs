using System.Net;
using Microsoft.Win32.SafeHandles;
using PortPublisher.Service.Publications;

namespace PortPublisher.Service.Sandboxes;

/// <summary>
/// Runs the sandbox's file work (the /run/netns bind mounts, the UTS pins, /etc/netns) on a fresh thread that, when a
/// host mount namespace is configured, has entered it first: a service under systemd's mount sandbox (ProtectSystem,
/// PrivateTmp) lives in a mount namespace whose mounts never propagate back to the host (systemd makes every mount a
/// slave first), so a bind mount made there would be invisible to <c>ip netns list</c>. setns(2) into a mount
/// namespace needs a thread of its own file-system context (<c>unshare(CLONE_FS)</c>), which is why each call gets a
/// thread that ends with it. The writer awaits it under a deadline, as it does every kernel step.
/// </summary>
internal sealed class MountNamespaceRunner : IDisposable
{
    private readonly SafeFileHandle? _hostMounts;

    /// <summary>The setting that keeps the service's own mount namespace.</summary>
    public const string Self = "self";

    /// <summary>The default: PID 1's mount namespace when the service runs in another one.</summary>
    public const string Auto = "auto";

    public MountNamespaceRunner(string? hostMountNamespace)
    {
        HostMountNamespace = hostMountNamespace switch
        {
            null or "" or Auto => Detect(),
            Self => null,
            _ => hostMountNamespace,
        };
        if (HostMountNamespace is not null)
        {
            // Opened once at start: a bad path fails the start, not the first create.
            _hostMounts = File.OpenHandle(HostMountNamespace, FileMode.Open, FileAccess.Read);
        }
    }

    /// <summary>The configured mount namespace, or null for the service's own.</summary>
    public string? HostMountNamespace { get; }

    public async ValueTask<T> RunAsync<T>(Func<T> work, TimeSpan timeout, string what)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Enter();
                done.TrySetResult(work());
            }
#pragma warning disable CA1031 // handed to the awaiting writer
            catch (Exception e)
#pragma warning restore CA1031
            {
                done.TrySetException(e);
            }
        })
        {
            IsBackground = true,
            Name = "sandbox-mounts",
        };
        thread.Start();
        try
        {
            return await done.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new PublishException(HttpStatusCode.GatewayTimeout, $"{what} did not finish within {timeout.TotalSeconds:0.#} s");
        }
    }

    public ValueTask RunAsync(Action work, TimeSpan timeout, string what) =>
        AsValueTask(RunAsync(() =>
        {
            work();
            return true;
        }, timeout, what));

    public void Dispose() => _hostMounts?.Dispose();

    /// <summary>
    /// The mount namespace of PID 1, else of the parent process, when it is not the service's own (a systemd unit's
    /// sandbox; <c>ip netns exec</c> or <c>unshare -m</c> from a shell, which is then the parent) and can be opened;
    /// else null. Mounts made in such a namespace of its own stay there, so <c>ip netns list</c> on the host would show
    /// the namespace file as an empty file.
    /// </summary>
    public static string? Detect()
    {
        string? own = Target("/proc/self/ns/mnt");
        foreach (string candidate in new[] { "/proc/1/ns/mnt", FormattableString.Invariant($"/proc/{Tmds.Linux.LibC.getppid()}/ns/mnt") })
        {
            string? theirs = Target(candidate);
            if (own is null || theirs is null || own == theirs)
            {
                continue;
            }

            try
            {
                using Microsoft.Win32.SafeHandles.SafeFileHandle probe = File.OpenHandle(candidate, FileMode.Open, FileAccess.Read);
                return candidate;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }

        return null;
    }

    private static string? Target(string link)
    {
        try
        {
            return File.ResolveLinkTarget(link, returnFinalTarget: false)?.Name;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static async ValueTask AsValueTask(ValueTask<bool> t) => await t;

    private void Enter()
    {
        // The thread's own file-system context: setns into a mount namespace needs it, and the umask lives in it, so
        // this thread alone makes world-readable files (/etc/netns is read by `ip netns exec` users, /run/netns by
        // `ip netns list`) while the service keeps its 0077.
        SandboxNative.Check(SandboxNative.unshare(SandboxNative.CLONE_FS), "unshare(CLONE_FS)");
        _ = SandboxNative.umask(0x12 /* 0022 */);
        if (_hostMounts is null)
        {
            return;
        }

        bool added = false;
        _hostMounts.DangerousAddRef(ref added);
        try
        {
            SandboxNative.Check(SandboxNative.setns((int)_hostMounts.DangerousGetHandle(), SandboxNative.CLONE_NEWNS), $"setns({HostMountNamespace})");
        }
        finally
        {
            if (added)
            {
                _hostMounts.DangerousRelease();
            }
        }
    }
}
