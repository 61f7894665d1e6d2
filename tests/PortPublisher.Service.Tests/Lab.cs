using System.Diagnostics;
using PortPublisher.Netlink;
using static PortPublisher.Service.Tests.Net;

namespace PortPublisher.Service.Tests;

/// <summary>
/// A client, a host and a container namespace joined by veth pairs (unique names, deleted on dispose), with the real
/// <c>portpublisherd</c> running inside the host namespace on its own socket, state directory and metrics port, and the
/// real <c>portpublisher</c> CLI to drive it. Nothing touches the root namespace.
/// </summary>
public sealed class Lab : IAsyncDisposable
{
    public const string HostV4 = "192.0.2.1";
    public const string ClientV4 = "192.0.2.2";
    public const string HostToContainerV4 = "10.99.0.1";
    public const string ContainerV4 = "10.99.0.2";

    private static readonly string s_root = FindRepoRoot();
    private readonly List<NetworkNamespace> _handles = [];
    private Process? _service;

    private Lab(string id)
    {
        Id = id;
        Host = $"{id}h";
        Container = $"{id}c";
        Client = $"{id}x";
        Dir = Directory.CreateTempSubdirectory("pp-e2e-").FullName;
    }

    public string Id { get; }

    public string Host { get; }

    public string Container { get; }

    public string Client { get; }

    public string Dir { get; }

    public string Socket => Path.Combine(Dir, "pp.sock");

    public string StateDir => Path.Combine(Dir, "state");

    public int MetricsPort { get; } = 20000 + Random.Shared.Next(10000);

    public NetworkNamespace HostNs { get; private set; } = null!;

    public NetworkNamespace ContainerNs { get; private set; } = null!;

    public NetworkNamespace ClientNs { get; private set; } = null!;

    public string Log => File.Exists(Path.Combine(Dir, "service.log")) ? File.ReadAllText(Path.Combine(Dir, "service.log")) : string.Empty;

    public static string RepoRoot => s_root;

    public static string Configuration => new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;

    public static string ServiceDll => Path.Combine(s_root, "src", "PortPublisher.Service", "bin", Configuration, "net10.0", "portpublisherd.dll");

    public static string CliDll => Path.Combine(s_root, "src", "PortPublisher.Cli", "bin", Configuration, "net10.0", "portpublisher.dll");

    public static async Task<Lab> StartAsync(params string[] serviceArgs)
    {
        RequireRoot();
        var lab = new Lab($"pp{Random.Shared.Next(0x1000000):x6}");
        try
        {
            lab.Build();
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
        foreach (NetworkNamespace n in _handles)
        {
            n.Dispose();
        }

        foreach (string ns in new[] { Host, Container, Client })
        {
            if (File.Exists(Path.Combine(NetworkNamespace.NetnsRunDir, ns)))
            {
                Run("/bin/sh", ["-c", $"ip netns pids {ns} | xargs -r kill -9; ip netns del {ns}"]);
            }
        }

        await Task.Yield();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void Build()
    {
        string h = Host, c = Container, x = Client;
        foreach (string ns in new[] { h, c, x })
        {
            Sh($"ip netns add {ns} && ip -n {ns} link set lo up");
            Sh($"ip netns exec {ns} sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0");
        }

        Sh($"ip -n {h} link add vh0 type veth peer name vc0 netns {c}");
        Sh($"ip -n {h} link add vx0 type veth peer name vx1 netns {x}");
        Sh($"ip -n {h} addr add {HostToContainerV4}/24 dev vh0 && ip -n {h} addr add {HostV4}/24 dev vx0 && ip -n {h} link set vh0 up && ip -n {h} link set vx0 up");
        Sh($"ip -n {c} addr add {ContainerV4}/24 dev vc0 && ip -n {c} link set vc0 up && ip -n {c} route add default via {HostToContainerV4}");
        Sh($"ip -n {x} addr add {ClientV4}/24 dev vx1 && ip -n {x} link set vx1 up && ip -n {x} route add default via {HostV4}");
        HostNs = Open(h);
        ContainerNs = Open(c);
        ClientNs = Open(x);
    }

    private NetworkNamespace Open(string name)
    {
        NetworkNamespace ns = NetworkNamespace.Open(name);
        _handles.Add(ns);
        return ns;
    }

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
