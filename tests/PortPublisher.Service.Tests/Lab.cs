using System.Diagnostics;
using PortPublisher.Netlink;
using PortPublisher.TestKit;
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

    /// <summary>An IPv4-only container, as on Docker's default bridge: [::] bindings then go through the proxy.</summary>
    public static Task<Lab> StartAsync(params string[] serviceArgs) => StartAsync(containerIPv6: false, serviceArgs);

    public static async Task<Lab> StartAsync(bool containerIPv6, params string[] serviceArgs)
    {
        RequireRoot();
        var lab = new Lab(ThreeNamespaces.Create(containerIPv6: containerIPv6, forwarding: false)); // the service sets the sysctls it needs
        try
        {
            await lab.StartServiceAsync(serviceArgs);
            return lab;
        }
        catch
        {
            await lab.DisposeAsync();
            throw;
        }
    }

    public async Task StartServiceAsync(params string[] extra)
    {
        string log = Path.Combine(Dir, "service.log");
        var psi = new ProcessStartInfo("ip", ["netns", "exec", Host, "dotnet", ServiceDll, "--socket", Socket, "--state-dir", StateDir, "--metrics", $"127.0.0.1:{MetricsPort}", .. extra])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _service = Process.Start(psi)!;
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
    public void StopService(bool kill)
    {
        if (_service is null || _service.HasExited)
        {
            return;
        }

        Sh($"kill -{(kill ? "KILL" : "TERM")} {_service.Id}");
        _service.WaitForExit(10_000);
    }

    public int ServicePid => _service!.Id;

    public (int Code, string Stdout, string Stderr) Cli(params string[] args) =>
        Run("dotnet", [CliDll, "-H", $"unix://{Socket}", .. args]);

    public string InHost(string command) => Sh($"ip netns exec {Host} {command}");

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
