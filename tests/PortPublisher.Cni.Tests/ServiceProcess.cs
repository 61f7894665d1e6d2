using System.Diagnostics;
using PortPublisher.TestKit;
using Xunit;

namespace PortPublisher.Cni.Tests;

/// <summary>
/// portpublisherd inside a throwaway host namespace (never the root one) on a socket and state directory of its own,
/// and the CLI to ask it; stopped (and waited for) on dispose.
/// </summary>
public sealed class ServiceProcess : IDisposable
{
    private readonly string _netns;
    private readonly Process _process;
    private readonly StreamWriter _log;

    private ServiceProcess(string netns, string dir, Process process, StreamWriter log)
    {
        _netns = netns;
        Dir = dir;
        _process = process;
        _log = log;
    }

    public string Dir { get; }

    public string Socket => Path.Combine(Dir, "pp.sock");

    public string LogText
    {
        get
        {
            lock (_log)
            {
                _log.Flush();
            }

            return File.ReadAllText(Path.Combine(Dir, "service.log"));
        }
    }

    public static ServiceProcess Start(string netns, string dir)
    {
        Directory.CreateDirectory(dir);
        var log = new StreamWriter(Path.Combine(dir, "service.log"), append: true) { AutoFlush = true };
        var psi = new ProcessStartInfo("ip", ["netns", "exec", netns, "dotnet", PluginProcess.ServiceDll, "--socket", Path.Combine(dir, "pp.sock"), "--state-dir", Path.Combine(dir, "state"), "--metrics", string.Empty])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => { lock (log) { if (e.Data is not null) { log.WriteLine(e.Data); } } };
        p.ErrorDataReceived += (_, e) => { lock (log) { if (e.Data is not null) { log.WriteLine(e.Data); } } };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var s = new ServiceProcess(netns, dir, p, log);
        (int code, _, string err) = s.Cli("status", "--wait", "30");
        if (code != 0)
        {
            string text = s.LogText;
            s.Dispose();
            Assert.Fail($"portpublisherd did not answer within 30 s ({err.Trim()}):\n{text}");
        }

        return s;
    }

    public (int Code, string Stdout, string Stderr) Cli(params string[] args) =>
        Shell.Run("ip", ["netns", "exec", _netns, "dotnet", PluginProcess.CliDll, "-H", $"unix://{Socket}", .. args], timeoutMs: 60_000);

    /// <summary>SIGTERM, and waits for the exit (its NAT stays in the kernel, as after any stop).</summary>
    public void Stop()
    {
        if (_process.HasExited)
        {
            return;
        }

        // ip netns exec execs the daemon, so the process we started is the daemon.
        Shell.TrySh($"kill -TERM {_process.Id}");
        if (!_process.WaitForExit(15_000))
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5_000);
        }
    }

    public void Dispose()
    {
        Stop();
        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }
}
