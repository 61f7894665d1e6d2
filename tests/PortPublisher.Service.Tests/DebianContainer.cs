using System.Diagnostics;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

/// <summary>
/// A throwaway Debian made from this machine's own root file system, read-only under an overlay whose writes go to a
/// tmpfs, run by systemd-nspawn with a private network namespace (only <c>lo</c>; nothing of this machine's network is
/// reachable or changed) and its own PID and mount namespaces. The .NET SDK is hidden (tmpfs over /usr/share/dotnet,
/// ~/.dotnet, ~/.nuget), the machine's enabled services and its policy-rc.d are left out, so a package installs as on
/// a fresh box. <see cref="BootAsync"/> boots its own systemd as PID 1 (not this machine's, which has none here);
/// <see cref="RunOnce"/> runs one command in it with no init at all, as in a chroot or a plain container.
/// Disposing stops it and removes everything.
/// </summary>
internal sealed class DebianContainer : IDisposable
{
    private readonly string _dir;
    private readonly string _name;
    private readonly string[] _binds;
    private Process? _nspawn;
    private int _leader;

    private DebianContainer(string name, IEnumerable<(string Host, string Inside)> readOnlyBinds)
    {
        _name = name;
        _dir = Path.Combine(Path.GetTempPath(), name);
        _binds = [.. readOnlyBinds.Select(b => $"--bind-ro={b.Host}:{b.Inside}")];
        Directory.CreateDirectory(_dir);
        try
        {
            Sh($"mount -t tmpfs tmpfs {_dir} && mkdir {_dir}/upper {_dir}/work {_dir}/root");
            Sh($"mount -t overlay overlay -o lowerdir=/,upperdir={_dir}/upper,workdir={_dir}/work {_dir}/root");

            // A fresh box: no services of this machine, no policy-rc.d forbidding starts, its own machine-id.
            Sh($"rm -f {Root}/etc/systemd/system/multi-user.target.wants/*.service {Root}/usr/sbin/policy-rc.d {Root}/etc/machine-id");

            // Its network is lo alone and never "online": wait-online would hold network-online.target (which the unit
            // wants, as Docker's does) for its 2 min timeout. And no man-db index rebuild on every dpkg run (a minute).
            Sh($"ln -sf /dev/null {Root}/etc/systemd/system/systemd-networkd-wait-online.service && rm -f {Root}/var/lib/man-db/auto-update");
        }
        catch
        {
            Unmount();
            throw;
        }
    }

    public string Root => Path.Combine(_dir, "root");

    public string Log => File.Exists(_dir + ".log") ? File.ReadAllText(_dir + ".log") : string.Empty;

    public static bool Available => File.Exists("/usr/bin/systemd-nspawn") && File.Exists("/lib/systemd/systemd");

    public static DebianContainer Create(params (string Host, string Inside)[] readOnlyBinds) =>
        new($"ppk-{Guid.NewGuid().ToString("N")[..8]}", readOnlyBinds);

    /// <summary>Boots systemd in it and waits until the boot is done (running, or degraded by some unit of the image).</summary>
    public async Task BootAsync()
    {
        var psi = new ProcessStartInfo("/bin/sh", ["-c", "exec systemd-nspawn \"$@\" >\"$LOG\" 2>&1 </dev/null", "sh", .. NspawnArgs(), "-b", "systemd.unit=basic.target"])
        {
            UseShellExecute = false,
        };
        psi.Environment["LOG"] = _dir + ".log";
        _nspawn = Process.Start(psi)!;
        var sw = Stopwatch.StartNew();
        while (_leader == 0)
        {
            if (_nspawn.HasExited || sw.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new InvalidOperationException($"systemd-nspawn did not start a container:\n{Log}");
            }

            string children = File.Exists($"/proc/{_nspawn.Id}/task/{_nspawn.Id}/children") ? File.ReadAllText($"/proc/{_nspawn.Id}/task/{_nspawn.Id}/children").Trim() : string.Empty;
            if (children.Length > 0 && File.ReadAllText($"/proc/{children.Split(' ')[0]}/comm").Trim() == "systemd")
            {
                _leader = int.Parse(children.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            }
            else
            {
                await Task.Delay(100);
            }
        }

        // is-system-running --wait returns when the boot is over, whatever its result; before systemd listens on its
        // private socket it fails at once and prints nothing (or "offline"), so ask again until then.
        string state = string.Empty;
        while (state is not ("running" or "degraded"))
        {
            if (_nspawn.HasExited || sw.Elapsed > TimeSpan.FromSeconds(120) || state is "maintenance" or "stopping")
            {
                throw new InvalidOperationException($"the container's systemd is '{state}' after {sw.Elapsed.TotalSeconds:F0} s:\n{(_nspawn.HasExited ? string.Empty : Exec("systemctl --failed --no-pager").Stdout)}\n{Log}");
            }

            state = Exec("systemctl is-system-running --wait", timeoutMs: 120_000).Stdout.Trim();
            if (state is "" or "offline")
            {
                await Task.Delay(200);
            }
        }
    }

    /// <summary>A shell command inside the booted container (all its namespaces), as root.</summary>
    public (int Code, string Stdout, string Stderr) Exec(string command, int timeoutMs = 60_000) =>
        _leader == 0
            ? throw new InvalidOperationException("the container is not booted")
            : Run("nsenter", ["-t", _leader.ToString(System.Globalization.CultureInfo.InvariantCulture), "-a", "/bin/sh", "-c", command], timeoutMs: timeoutMs);

    /// <summary>A shell command that must succeed inside the booted container; its stdout.</summary>
    public string ExecOk(string command, int timeoutMs = 60_000)
    {
        (int code, string stdout, string stderr) = Exec(command, timeoutMs);
        return code == 0 ? stdout : throw new InvalidOperationException($"in the container, `{command}` exited {code}:\n{stdout}{stderr}");
    }

    /// <summary>One command in the container without booting it: no init, no /run/systemd/system.</summary>
    public (int Code, string Stdout, string Stderr) RunOnce(string command, int timeoutMs = 120_000) =>
        Run("systemd-nspawn", [.. NspawnArgs(), "--quiet", "/bin/sh", "-c", command], timeoutMs: timeoutMs);

    public void Dispose()
    {
        if (_nspawn is { HasExited: false })
        {
            // SIGTERM asks the container's systemd to power off; SIGKILL if it does not within the time.
            TrySh($"kill -TERM {_nspawn.Id}");
            if (!_nspawn.WaitForExit(30_000))
            {
                _nspawn.Kill(entireProcessTree: true);
                _nspawn.WaitForExit(10_000);
            }
        }

        _nspawn?.Dispose();
        Unmount();
    }

    private string[] NspawnArgs() =>
    [
        "-D", Root, "--private-network", "--register=no", "--keep-unit", "-M", _name,
        "--tmpfs=/usr/share/dotnet", "--tmpfs=/root/.dotnet", "--tmpfs=/root/.nuget", .. _binds,
    ];

    private void Unmount()
    {
        TrySh($"umount {_dir}/root || umount -l {_dir}/root");
        TrySh($"umount {_dir} || umount -l {_dir}");
        TrySh($"rmdir {_dir}; rm -f {_dir}.log; rm -rf /run/systemd/nspawn/propagate/{_name}");
    }
}
