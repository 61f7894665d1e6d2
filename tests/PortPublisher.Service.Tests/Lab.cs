using System.Diagnostics;
using PortPublisher.Netlink;
using PortPublisher.TestKit;
using Xunit;
using static PortPublisher.Service.Tests.Net;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

/// <summary>
/// A client, a host and a container namespace joined by veth pairs (unique names, deleted on dispose), with the real
/// <c>portpublisherd</c> running inside the host namespace on its own socket, state directory and metrics port, and the
/// real <c>portpublisher</c> CLI to drive it. Nothing touches the root namespace.
/// </summary>
public sealed class Lab : IAsyncDisposable
{
    public const string HostV4 = ThreeNamespaces.HostV4;
    public const string ClientV4 = ThreeNamespaces.ClientV4;
    public const string HostToContainerV4 = ThreeNamespaces.HostToContainerV4;
    public const string ContainerV4 = ThreeNamespaces.ContainerV4;

    private static readonly string s_root = FindRepoRoot();
    private readonly ThreeNamespaces _ns;
    private Process? _service;
    private int _servicePid;

    private Lab(ThreeNamespaces ns)
    {
        _ns = ns;
        Dir = Directory.CreateTempSubdirectory("pp-e2e-").FullName;
    }

    public string Id => _ns.Id;

    public string Host => _ns.Host;

    public string Container => _ns.Container;

    public string Client => _ns.Client;

    public string Dir { get; }

    public string Socket => Path.Combine(Dir, "pp.sock");

    public string StateDir => Path.Combine(Dir, "state");

    public int MetricsPort { get; } = 20000 + Random.Shared.Next(10000);

    public NetworkNamespace HostNs => _ns.HostNs;

    public NetworkNamespace ContainerNs => _ns.ContainerNs;

    public NetworkNamespace ClientNs => _ns.ClientNs;

    public string Log => File.Exists(Path.Combine(Dir, "service.log")) ? File.ReadAllText(Path.Combine(Dir, "service.log")) : string.Empty;

    public static string RepoRoot => s_root;

    public static string Configuration => new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;

    public static string ServiceDll => Path.Combine(s_root, "src", "PortPublisher.Service", "bin", Configuration, "net10.0", "portpublisherd.dll");

    public static string CliDll => Path.Combine(s_root, "src", "PortPublisher.Cli", "bin", Configuration, "net10.0", "portpublisher.dll");

    /// <summary>How the tests start the CLI: the native binary in CI (<see cref="CliUnderTest"/>), else <c>dotnet</c> <see cref="CliDll"/>.</summary>
    public static string[] CliCommand => CliUnderTest.Command(CliDll);

    /// <summary>The CLI with exactly these arguments (no <c>-H</c> added).</summary>
    public static (int Code, string Stdout, string Stderr) RunCli(IEnumerable<string> args, int timeoutMs = 30_000) =>
        Run(CliCommand[0], [.. CliCommand[1..], .. args], timeoutMs: timeoutMs);

    /// <summary>An IPv4-only container, as on Docker's default bridge: [::] bindings then go through the proxy.</summary>
    public static Task<Lab> StartAsync(params string[] serviceArgs) => StartAsync(containerIPv6: false, serviceArgs);

    public static Task<Lab> StartAsync(bool containerIPv6, params string[] serviceArgs) => StartAsync(containerIPv6, null, serviceArgs);

    /// <summary>As above, the service with <paramref name="environment"/> added to this process's.</summary>
    public static async Task<Lab> StartAsync(bool containerIPv6, IReadOnlyDictionary<string, string>? environment, params string[] serviceArgs)
    {
        RequireRoot();
        var lab = new Lab(ThreeNamespaces.Create(containerIPv6: containerIPv6, forwarding: false)); // the service sets the sysctls it needs
        try
        {
            await lab.StartServiceAsync(environment, null, serviceArgs);
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    public Task StartServiceAsync(params string[] extra) => StartServiceAsync(null, null, extra);

    /// <summary>A command the daemon is started under, which must exec it (e.g. <c>prlimit --nofile=… --</c>).</summary>
    public IReadOnlyList<string> Wrapper { get; set; } = [];

    /// <summary>
    /// Starts portpublisherd in the host namespace with <paramref name="environment"/> added to this process's; with a
    /// <paramref name="parentName"/>, under a shell copied to that name (systemd's hosting helpers enable the notifier
    /// only when the parent process is called "systemd"), else as <c>ip netns exec</c>'s own process.
    /// </summary>
    public async Task StartServiceAsync(IReadOnlyDictionary<string, string>? environment, string? parentName, params string[] extra)
    {
        string log = Path.Combine(Dir, "service.log");
        string[] daemon = ["dotnet", ServiceDll, "--socket", Socket, "--state-dir", StateDir, "--metrics", $"127.0.0.1:{MetricsPort}", .. extra];
        string[] command = [.. Wrapper, .. daemon];
        if (parentName is not null)
        {
            string launcher = Path.Combine(Dir, parentName);
            File.Copy("/bin/sh", launcher, overwrite: true);

            // `; exit $?` keeps the shell from exec'ing its last command: it stays the daemon's parent.
            command = [launcher, "-c", "\"$@\"; exit $?", parentName, .. daemon];
        }

        var psi = new ProcessStartInfo("ip", ["netns", "exec", Host, .. command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[key] = value;
        }

        _service = Process.Start(psi)!;
        _servicePid = parentName is null ? _service.Id : 0;
        var writer = new StreamWriter(log, append: true) { AutoFlush = true };
        _service.OutputDataReceived += (_, e) => { lock (writer) { if (e.Data is not null) { writer.WriteLine(e.Data); } } };
        _service.ErrorDataReceived += (_, e) => { lock (writer) { if (e.Data is not null) { writer.WriteLine(e.Data); } } };
        _service.BeginOutputReadLine();
        _service.BeginErrorReadLine();
        await Eventually(() => Task.FromResult(_service.HasExited || Cli("ls").Code == 0), 20_000);
        if (_service.HasExited)
        {
            throw new InvalidOperationException($"portpublisherd exited {_service.ExitCode}:\n{Log}");
        }
    }

    /// <summary>Stops the service: SIGKILL (a crash) or SIGTERM (a clean stop).</summary>
    public void StopService(bool kill) => StopService(kill, 10_000);

    /// <summary>Signals the service and waits up to <paramref name="timeoutMs"/>; whether it exited in that time.</summary>
    public bool StopService(bool kill, int timeoutMs)
    {
        if (_service is null || _service.HasExited)
        {
            return true;
        }

        try
        {
            Sh($"kill -{(kill ? "KILL" : "TERM")} {ServicePid}");
        }
        catch (Exception e) when (e is IOException or FormatException or InvalidOperationException)
        {
            _service.Kill(entireProcessTree: true); // the daemon under a launcher is already gone, or cannot be found
        }

        return _service.WaitForExit(timeoutMs);
    }

    /// <summary>Whether the service process is still running.</summary>
    public bool ServiceRunning => _service is { HasExited: false };

    /// <summary>The daemon's own PID (under a launcher, the launcher's child).</summary>
    public int ServicePid
    {
        get
        {
            if (_servicePid == 0)
            {
                string children = File.ReadAllText($"/proc/{_service!.Id}/task/{_service.Id}/children").Trim();
                _servicePid = int.Parse(children.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            }

            return _servicePid;
        }
    }

    /// <summary>
    /// Another portpublisherd in the host namespace with exactly <paramref name="args"/> (no defaults), its output in
    /// <paramref name="logName"/> under the lab directory. The caller waits for it and kills it if it lingers.
    /// </summary>
    public Process StartOtherDaemon(string logName, params string[] args) => StartOtherDaemon(logName, null, args);

    /// <inheritdoc cref="StartOtherDaemon(string, string[])"/>
    /// <param name="logName">The log file under the lab directory (appended to: its inode is the daemon's stdout and stderr).</param>
    /// <param name="environment">Added to this process's environment.</param>
    /// <param name="args">The daemon's arguments, exactly.</param>
    public Process StartOtherDaemon(string logName, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        string log = Path.Combine(Dir, logName);
        var psi = new ProcessStartInfo("/bin/sh", ["-c", "exec ip netns exec \"$0\" \"$@\" >>\"$LOG\" 2>&1", Host, "dotnet", ServiceDll, .. args]) { UseShellExecute = false };
        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[key] = value;
        }

        psi.Environment["LOG"] = log;
        return Process.Start(psi)!;
    }

    public (int Code, string Stdout, string Stderr) Cli(params string[] args) =>
        RunCli(["-H", $"unix://{Socket}", .. args]);

    /// <summary>
    /// The CLI under a deadline: past it the CLI is killed and the test fails, so a wedged service is a failure with the
    /// service's log, never a hung run.
    /// </summary>
    public (int Code, string Stdout, string Stderr) Cli(TimeSpan deadline, params string[] args)
    {
        try
        {
            return RunCli(["-H", $"unix://{Socket}", .. args], (int)deadline.TotalMilliseconds);
        }
        catch (TimeoutException e)
        {
            string log = Log;
            Assert.Fail($"{e.Message}: the CLI was killed, the service did not answer (a hang). Service log, last 3,000 characters:\n{log[Math.Max(0, log.Length - 3000)..]}");
            throw;
        }
    }

    public string InHost(string command) => Sh($"ip netns exec {Host} {command}");

    /// <summary>The CLI run inside the host namespace (where the service runs), as <c>cleanup</c> must be.</summary>
    public (int Code, string Stdout, string Stderr) CliInHost(params string[] args) =>
        Run("ip", ["netns", "exec", Host, .. CliCommand, "-H", $"unix://{Socket}", .. args]);

    public async ValueTask DisposeAsync()
    {
        StopService(kill: true);
        _service?.Dispose();
        _ns.Dispose();
        await Task.Yield();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Another namespace with the lab's prefix (lo up), deleted with the lab.</summary>
    public string AddNamespace(string suffix) => _ns.AddNamespace(suffix);

    private static string FindRepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "PortPublisher.sln")))
        {
            d = d.Parent;
        }

        return d?.FullName ?? throw new InvalidOperationException("PortPublisher.sln not found above the test binaries");
    }
}
