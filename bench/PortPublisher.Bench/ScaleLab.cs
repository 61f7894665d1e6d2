using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using PortPublisher.Core.Api;
using static PortPublisher.Bench.Shell;

namespace PortPublisher.Bench;

/// <summary>
/// The real <c>portpublisherd</c> in a host namespace the bench makes (never the root's), a dual-stack container
/// namespace joined to it by a veth, and a scratch namespace for <c>nft -f</c>; all deleted on dispose. The daemon
/// runs under <c>prlimit --nofile</c> with its publisher at Debug, so each publish and unpublish logs its service-side
/// time and steps. Driven by the real CLI (<see cref="Cli"/>) and, for bulk work, by the same HTTP API the CLI uses.
/// </summary>
internal sealed partial class ScaleLab : IDisposable
{
    public const string ContainerV4 = "10.99.0.2";
    public const string ContainerV6 = "fd00:99::2";

    private readonly List<string> _log = [];
    private readonly string _daemon;
    private readonly string[] _cli;
    private readonly int _nofile;
    private Process? _service;
    private HttpClient? _http;

    public ScaleLab(string configuration, int nofile)
    {
        Root = FindRoot();
        _daemon = Path.Combine(Root, "src", "PortPublisher.Service", "bin", configuration, "net10.0", "portpublisherd.dll");
        string? cli = Environment.GetEnvironmentVariable("PORTPUBLISHER_BENCH_CLI");
        _cli = cli is { Length: > 0 } ? [cli] : ["dotnet", Path.Combine(Root, "src", "PortPublisher.Cli", "bin", configuration, "net10.0", "portpublisher.dll")];
        _nofile = nofile;
        string id = $"ppsc{Environment.ProcessId % 100000}";
        Host = $"{id}h";
        Container = $"{id}c";
        Scratch = $"{id}o";
        Dir = Directory.CreateTempSubdirectory("ppsc-").FullName;
        try
        {
            foreach (string ns in new[] { Host, Container, Scratch })
            {
                Sh($"ip netns add {ns} && ip -n {ns} link set lo up && ip netns exec {ns} sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
            }

            Sh($"ip -n {Host} link add vh0 type veth peer name vc0 netns {Container}");
            Sh($"ip -n {Host} addr add 10.99.0.1/24 dev vh0 && ip -n {Host} addr add fd00:99::1/64 dev vh0 nodad && ip -n {Host} link set vh0 up");
            Sh($"ip -n {Container} addr add {ContainerV4}/24 dev vc0 && ip -n {Container} addr add {ContainerV6}/64 dev vc0 nodad && ip -n {Container} link set vc0 up");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Root { get; }

    public string Host { get; }

    public string Container { get; }

    public string Scratch { get; }

    public string Dir { get; }

    public string Socket => Path.Combine(Dir, "pp.sock");

    /// <summary>The daemon's PID (prlimit and ip netns exec exec it, so it is the process started).</summary>
    public int ServicePid => _service?.Id ?? 0;

    /// <summary>The CLI as the bench runs it: <c>dotnet portpublisher.dll</c>, or PORTPUBLISHER_BENCH_CLI (e.g. a NativeAOT build).</summary>
    public string CliCommand => string.Join(' ', _cli) + $" -H unix://{Socket}";

    /// <summary>Log lines so far.</summary>
    public int LogCount
    {
        get
        {
            lock (_log)
            {
                return _log.Count;
            }
        }
    }

    /// <summary>Starts the daemon and waits until it answers; returns milliseconds from the start to the first answer.</summary>
    public double StartService()
    {
        var psi = new ProcessStartInfo("ip", ["netns", "exec", Host, "prlimit", $"--nofile={_nofile}:{_nofile}", "--", "dotnet", _daemon,
            "--socket", Socket, "--state-dir", Path.Combine(Dir, "state"), "--metrics", ""])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["Logging__LogLevel__PortPublisher.Service.Publications.Publisher"] = "Debug";
        var sw = Stopwatch.StartNew();
        _service = Process.Start(psi)!;
        _service.OutputDataReceived += (_, e) => Add(e.Data);
        _service.ErrorDataReceived += (_, e) => Add(e.Data);
        _service.BeginOutputReadLine();
        _service.BeginErrorReadLine();
        _http?.Dispose();
        _http = NewClient();
        while (true)
        {
            if (_service.HasExited)
            {
                throw new InvalidOperationException($"portpublisherd exited {_service.ExitCode}: {string.Join('\n', Lines(0).TakeLast(20))}");
            }

            if (sw.Elapsed > TimeSpan.FromMinutes(3))
            {
                throw new TimeoutException("portpublisherd did not answer within 3 minutes");
            }

            try
            {
                using HttpResponseMessage r = _http.GetAsync("v1/status").GetAwaiter().GetResult();
                if (r.IsSuccessStatusCode)
                {
                    return sw.Elapsed.TotalMilliseconds;
                }
            }
            catch (HttpRequestException)
            {
            }

            Thread.Sleep(20);
        }
    }

    /// <summary>SIGTERM, then waits (SIGKILL after 30 s).</summary>
    public void StopService()
    {
        if (_service is null || _service.HasExited)
        {
            return;
        }

        Sh($"kill -TERM {_service.Id}");
        if (!_service.WaitForExit(30_000))
        {
            _service.Kill(entireProcessTree: true);
            _service.WaitForExit(10_000);
        }
    }

    /// <summary>The real CLI; throws on a non-zero exit. Returns wall milliseconds, process start included.</summary>
    public double Cli(string args) => TimeMs($"{CliCommand} {args} > /dev/null");

    /// <summary>POST /v1/publications as the CLI sends it; returns wall milliseconds.</summary>
    public double Publish(string name, string netns, params string[] specs)
    {
        var sw = Stopwatch.StartNew();
        using HttpResponseMessage r = _http!.PostAsJsonAsync("v1/publications", new PublishRequest(name, netns, specs), ApiJsonContext.Default.PublishRequest).GetAwaiter().GetResult();
        double ms = sw.Elapsed.TotalMilliseconds;
        if (!r.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"publish {name}: {(int)r.StatusCode} {r.Content.ReadAsStringAsync().GetAwaiter().GetResult()}");
        }

        return ms;
    }

    /// <summary>GET /v1/publications; returns (wall milliseconds, publications).</summary>
    public (double Ms, int Count) List()
    {
        var sw = Stopwatch.StartNew();
        List<PublicationDto> all = _http!.GetFromJsonAsync("v1/publications", ApiJsonContext.Default.ListPublicationDto).GetAwaiter().GetResult()!;
        return (sw.Elapsed.TotalMilliseconds, all.Count);
    }

    /// <summary>CPU time (user + system, all threads) the daemon has used, in ms (10 ms ticks).</summary>
    public double CpuMs() => ProcessStats.CpuSeconds(ServicePid) * 1000;

    /// <summary>
    /// CPU time of this process's waited-for children (cutime + cstime): around a command, what that command cost in
    /// CPU, which a busy machine inflates far less than wall time.
    /// </summary>
    public static double ChildrenCpuMs()
    {
        string stat = File.ReadAllText("/proc/self/stat");
        string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (double.Parse(f[13], CultureInfo.InvariantCulture) + double.Parse(f[14], CultureInfo.InvariantCulture)) * 10;
    }

    /// <summary>VmRSS of the daemon, in MiB.</summary>
    public double RssMiB() => ProcessStats.RssBytes(ServicePid) / 1048576.0;

    /// <summary>Open descriptors of the daemon.</summary>
    public int Descriptors() => Directory.GetFiles($"/proc/{ServicePid}/fd").Length;

    /// <summary>Waits for a log line at or after <paramref name="from"/> matching <paramref name="pattern"/>; its match.</summary>
    public Match WaitForLine(int from, Regex pattern, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            foreach (string line in Lines(from))
            {
                Match m = pattern.Match(line);
                if (m.Success)
                {
                    return m;
                }
            }

            Thread.Sleep(5);
        }

        throw new TimeoutException($"no log line matching {pattern} within {timeout.TotalSeconds} s");
    }

    /// <summary>The service-side milliseconds of the publish or unpublish of <paramref name="name"/> logged at or after <paramref name="from"/>, and its steps.</summary>
    public (double Ms, string Steps) ServiceTime(int from, string verb, string name)
    {
        Regex done = verb == "publish"
            ? new Regex($@"Published {Regex.Escape(name)} in \S+: \d+ bindings in ([\d.]+) ms")
            : new Regex($@"Unpublished {Regex.Escape(name)}: \d+ bindings in ([\d.]+) ms");
        double ms = double.Parse(WaitForLine(from, done, TimeSpan.FromSeconds(30)).Groups[1].Value, CultureInfo.InvariantCulture);
        Regex steps = new($@"{(verb == "publish" ? "Publish" : "Unpublish")} {Regex.Escape(name)} steps \(ms\): (.*)$");
        return (ms, WaitForLine(from, steps, TimeSpan.FromSeconds(5)).Groups[1].Value);
    }

    public IReadOnlyList<string> Lines(int from)
    {
        lock (_log)
        {
            return [.. _log.Skip(from)];
        }
    }

    public void Dispose()
    {
        _http?.Dispose();
        if (_service is not null && !_service.HasExited)
        {
            _service.Kill(entireProcessTree: true);
            _service.WaitForExit(10_000);
        }

        foreach (string ns in new[] { Host, Container, Scratch })
        {
            try
            {
                Sh($"ip netns del {ns}");
            }
            catch (InvalidOperationException)
            {
            }
        }

        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string FindRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "PortPublisher.sln")))
        {
            d = d.Parent;
        }

        return d?.FullName ?? throw new InvalidOperationException("PortPublisher.sln not found");
    }

    private void Add(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.Add(line);
            }
        }
    }

    private HttpClient NewClient()
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var s = new System.Net.Sockets.Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await s.ConnectAsync(new UnixDomainSocketEndPoint(Socket), ct);
                    return new NetworkStream(s, ownsSocket: true);
                }
                catch
                {
                    s.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(handler) { BaseAddress = new Uri("http://portpublisher/"), Timeout = TimeSpan.FromMinutes(2) };
    }
}
