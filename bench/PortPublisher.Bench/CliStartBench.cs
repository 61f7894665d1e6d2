using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using static PortPublisher.Bench.Shell;

namespace PortPublisher.Bench;

/// <summary>
/// How long a CLI command takes, process start included: the native (NativeAOT) and the JIT <c>portpublisher</c>
/// (<c>--version</c>, <c>port NAME</c>, <c>ls</c>) side by side with the docker CLI's <c>docker port NAME</c> against
/// the same socket (<c>DOCKER_HOST=unix://…</c>), all asking one real portpublisherd that runs in a throwaway namespace.
/// Interleaved rounds (each round starts at the next command, so none always runs first), medians; <c>/bin/true</c>
/// started the same way is the floor every row includes. Targets (issue 13): <c>--version</c> ≤ 15 ms, and
/// <c>port NAME</c> ≤ 1.5× <c>docker port NAME</c>.
/// </summary>
internal static class CliStartBench
{
    private sealed record Peer(string Label, string File, string[] Args);

    public static int Run(string[] args)
    {
        int rounds = 30;
        string? native = null, jit = null, docker = null;
        for (int i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--native" when i + 1 < args.Length: native = args[++i]; break;
                case "--jit" when i + 1 < args.Length: jit = args[++i]; break;
                case "--docker" when i + 1 < args.Length: docker = args[++i]; break;
                default:
                    if (!int.TryParse(args[i], NumberStyles.None, CultureInfo.InvariantCulture, out rounds) || rounds < 1)
                    {
                        Console.Error.WriteLine($"cli-start: unexpected '{args[i]}' (usage: cli-start [rounds] [--native PATH] [--jit PATH] [--docker PATH])");
                        return 2;
                    }

                    break;
            }
        }

        string root = FindRoot();
        string rid = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64"; // what `dotnet publish` picks here
        native ??= Path.Combine(root, "src", "PortPublisher.Cli", "bin", "Release", "net10.0", rid, "publish", "portpublisher");
        jit ??= Path.Combine(root, "src", "PortPublisher.Cli", "bin", "Release", "net10.0", "portpublisher");
        string daemon = Path.Combine(root, "src", "PortPublisher.Service", "bin", "Release", "net10.0", "portpublisherd.dll");
        foreach ((string path, string how) in new[] { (native, "dotnet publish src/PortPublisher.Cli -c Release"), (jit, "dotnet build -c Release"), (daemon, "dotnet build -c Release") })
        {
            if (!File.Exists(path))
            {
                Console.Error.WriteLine($"cli-start: {path} is missing (make it with `{how}`)");
                return 2;
            }
        }

        string id = $"ppcs{Environment.ProcessId % 100000}";
        string h = $"{id}h", c = $"{id}c";
        string dir = Directory.CreateTempSubdirectory("ppcs-").FullName;
        Process? service = null;
        try
        {
            docker ??= FindDocker(dir);
            foreach (string ns in new[] { h, c })
            {
                Sh($"ip netns add {ns} && ip -n {ns} link set lo up");
            }

            Sh($"ip -n {h} link add vh0 type veth peer name vc0 netns {c}");
            Sh($"ip -n {h} addr add 10.99.0.1/24 dev vh0 && ip -n {h} link set vh0 up");
            Sh($"ip -n {c} addr add 10.99.0.2/24 dev vc0 && ip -n {c} link set vc0 up");
            string sock = Path.Combine(dir, "pp.sock");
            string host = $"unix://{sock}";
            service = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", h, "dotnet", daemon, "--socket", sock, "--state-dir", Path.Combine(dir, "state"), "--metrics", ""])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            service.OutputDataReceived += (_, _) => { };
            service.ErrorDataReceived += (_, _) => { };
            service.BeginOutputReadLine();
            service.BeginErrorReadLine();
            Sh($"{native} -H {host} status --wait 30 >/dev/null");
            Sh($"{native} -H {host} publish web --netns {c} -p 8080:80 -p 127.0.0.1:5353:53/udp -p 9000-9003:9000-9003 >/dev/null");

            // Every peer must print the same before its time means anything.
            var env = new Dictionary<string, string> { ["DOCKER_HOST"] = host, ["DOCKER_CONFIG"] = Path.Combine(dir, "docker-config") };
            string expected = Start(native, ["-H", host, "port", "web"], env).Stdout;
            foreach ((string file, string[] a) in new[] { (jit, new[] { "-H", host, "port", "web" }), (docker, new[] { "port", "web" }) })
            {
                string got = Start(file, a, env).Stdout;
                if (got != expected)
                {
                    Console.Error.WriteLine($"cli-start: `{file} {string.Join(' ', a)}` printed\n{got}instead of\n{expected}");
                    return 1;
                }
            }

            Peer[] peers =
            [
                new("/bin/true (process start, the floor)", "/bin/true", []),
                new("portpublisher --version (native)", native, ["--version"]),
                new("portpublisher --version (JIT)", jit, ["--version"]),
                new("docker --version", docker, ["--version"]),
                new("portpublisher port web (native)", native, ["-H", host, "port", "web"]),
                new("portpublisher port web (JIT)", jit, ["-H", host, "port", "web"]),
                new("docker port web", docker, ["port", "web"]),
                new("portpublisher ls (native)", native, ["-H", host, "ls"]),
                new("portpublisher ls (JIT)", jit, ["-H", host, "ls"]),
            ];
            var times = peers.ToDictionary(p => p, _ => new List<double>());
            foreach (Peer p in peers)
            {
                Start(p.File, p.Args, env); // warm-up: page cache, the service's first request
            }

            for (int r = 0; r < rounds; r++)
            {
                for (int k = 0; k < peers.Length; k++)
                {
                    Peer p = peers[(r + k) % peers.Length];
                    times[p].Add(Start(p.File, p.Args, env).Ms);
                }
            }

            Console.WriteLine($"# CLI start, {rounds} interleaved rounds, medians (docker CLI: {docker}, `{Start(docker, ["--version"], env).Stdout.Trim()}`)");
            Console.WriteLine("| command | median ms | p10 ms | p90 ms |");
            Console.WriteLine("| --- | ---: | ---: | ---: |");
            foreach (Peer p in peers)
            {
                List<double> t = times[p];
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| `{p.Label}` | {Median([.. t]):F1} | {Percentile(t, 0.1):F1} | {Percentile(t, 0.9):F1} |"));
            }

            double M(int i) => Median([.. times[peers[i]]]);
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"native --version: {M(1):F1} ms (target ≤ 15 ms); JIT --version / native: {M(2) / M(1):F1}x"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"port web: native / docker {M(4) / M(6):F2}x (target ≤ 1.5x), JIT / docker {M(5) / M(6):F2}x, JIT / native {M(5) / M(4):F1}x"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ls: native {M(7):F1} ms, JIT {M(8):F1} ms ({M(8) / M(7):F1}x)"));
            return 0;
        }
        finally
        {
            if (service is not null && !service.HasExited)
            {
                service.Kill(entireProcessTree: true);
                service.WaitForExit();
            }

            foreach (string ns in new[] { h, c })
            {
                try
                {
                    Sh($"ip netns del {ns}");
                }
                catch (InvalidOperationException)
                {
                }
            }

            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Runs one command to its end, output read; wall time from the start to the exit.</summary>
    private static (double Ms, string Stdout) Start(string file, string[] args, Dictionary<string, string> env)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.Environment.Remove("PORTPUBLISHER_HOST");
        foreach ((string k, string v) in env)
        {
            psi.Environment[k] = v;
        }

        var sw = Stopwatch.StartNew();
        using Process p = Process.Start(psi)!;
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(30_000))
        {
            p.Kill();
            throw new TimeoutException($"`{file} {string.Join(' ', args)}` did not finish in 30 s");
        }

        double ms = sw.Elapsed.TotalMilliseconds;
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"`{file} {string.Join(' ', args)}` exited {p.ExitCode}: {stderr.Result}");
        }

        return (ms, stdout);
    }

    /// <summary>The docker CLI on PATH, else the one in Debian's docker.io package, unpacked here (never installed; no dockerd is started).</summary>
    private static string FindDocker(string dir)
    {
        foreach (string d in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(d, "docker");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        string unpacked = Path.Combine(dir, "docker.io");
        Directory.CreateDirectory(unpacked);
        Console.Error.WriteLine("cli-start: no docker on PATH; unpacking the docker CLI from Debian's docker.io package (apt-get download; pass --docker PATH to reuse one)");
        Sh($"cd {unpacked} && apt-get download docker.io >/dev/null 2>&1 && dpkg -x docker.io_*.deb root");
        return Path.Combine(unpacked, "root", "usr", "bin", "docker");
    }

    private static double Percentile(List<double> xs, double q)
    {
        List<double> sorted = [.. xs.Order()];
        return sorted[(int)Math.Round(q * (sorted.Count - 1))];
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
}
