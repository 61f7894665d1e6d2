using System.Diagnostics;
using System.Text;
using static PortPublisher.Bench.Shell;

namespace PortPublisher.Bench;

/// <summary>
/// The shipped <c>portpublisherd</c>, started as the unit starts it (its environment's DOTNET_gcServer=0, no options
/// but where its socket and state go and metrics off) inside a throwaway host namespace, driven through the shipped
/// CLI as a user would. Stopped with SIGTERM on dispose (SIGKILL after 10 s); its tables go with the namespace.
/// </summary>
internal sealed class ServiceUnderTest : IDisposable
{
    private static readonly TimeSpan CliTimeout = TimeSpan.FromSeconds(40);
    private readonly Process _process;
    private readonly string _host;
    private readonly string _cli;
    private readonly string _dir;
    private readonly StringBuilder _log = new();

    private ServiceUnderTest(Process process, string host, string cli, string dir)
    {
        _process = process;
        _host = host;
        _cli = cli;
        _dir = dir;
    }

    public int Pid => _process.Id;

    /// <summary>The service's last output, for error messages.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Starts the service in namespace <paramref name="host"/> and waits until it answers (`status --wait`).</summary>
    /// <param name="service">The portpublisherd apphost (or its .dll, run with dotnet).</param>
    /// <param name="cli">The command that runs the CLI (an apphost, a native binary, or "dotnet …/portpublisher.dll").</param>
    /// <param name="perfMap">Let perf resolve JIT'ed frames: DOTNET_PerfMapEnabled=1 and W^X off (so the code is not in a memfd).</param>
    public static ServiceUnderTest Start(string host, string service, string cli, bool perfMap)
    {
        string dir = Directory.CreateTempSubdirectory("ppsc-svc-").FullName;
        List<string> args = ["netns", "exec", host];
        if (service.EndsWith(".dll", StringComparison.Ordinal))
        {
            args.Add("dotnet");
        }

        args.AddRange([service, "--socket", Path.Combine(dir, "pp.sock"), "--state-dir", Path.Combine(dir, "state"), "--metrics", string.Empty]);
        var psi = new ProcessStartInfo("ip", args) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["DOTNET_gcServer"] = "0"; // as deploy/portpublisher.service
        if (perfMap)
        {
            psi.Environment["DOTNET_PerfMapEnabled"] = "1";
            psi.Environment["DOTNET_EnableWriteXorExecute"] = "0";
        }

        var s = new ServiceUnderTest(Process.Start(psi)!, host, cli, dir);
        s._process.OutputDataReceived += (_, e) => s.Append(e.Data);
        s._process.ErrorDataReceived += (_, e) => s.Append(e.Data);
        s._process.BeginOutputReadLine();
        s._process.BeginErrorReadLine();
        try
        {
            s.Cli("status --wait 30");
            return s;
        }
        catch
        {
            string log = s.Log;
            s.Dispose();
            throw new InvalidOperationException($"portpublisherd did not come up: {log}");
        }
    }

    /// <summary>Runs one CLI command against this service (in its namespace, as a user on that host would) and returns its output.</summary>
    public string Cli(string arguments) =>
        Sh($"ip netns exec {_host} {_cli} -H unix://{Path.Combine(_dir, "pp.sock")} {arguments}", CliTimeout);

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                Sh($"kill -TERM {_process.Id}", CliTimeout);
                if (!_process.WaitForExit(TimeSpan.FromSeconds(10)))
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(5000);
                }
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            if (_log.Length > 16_384)
            {
                _log.Remove(0, _log.Length - 8192);
            }

            _log.AppendLine(line);
        }
    }
}
