using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text.Json;
using PortPublisher.Core.Api;
using PortPublisher.Core.DockerPort;
using PortPublisher.Core.Publications;
using PortPublisher.Core.Specs;

namespace PortPublisher.Cli;

/// <summary>The <c>portpublisher</c> command tree. Specs and names are checked here, before any request.</summary>
public sealed partial class CliApp
{
    private readonly TextWriter _out;
    private readonly TextWriter _err;
    private readonly Func<string, string?> _env;
    private readonly TimeProvider _time;

    private readonly Option<string?> _host = new("--host", "-H")
    {
        Description = $"The service socket, unix:///path (default: $PORTPUBLISHER_HOST, else {ServiceClient.DefaultHost})",
        Recursive = true,
    };

    private readonly Option<bool> _version = new("--version") { Description = "Show the CLI's version (the service's: `portpublisher status`)" };

    public CliApp(TextWriter stdout, TextWriter stderr, Func<string, string?>? environment = null, TimeProvider? time = null)
    {
        _out = stdout;
        _err = stderr;
        _env = environment ?? Environment.GetEnvironmentVariable;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The CLI's informational version (<c>1.0.0+commit</c>), as the service reports its own.</summary>
    public static string Version { get; } =
        typeof(CliApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>For tests: called with the attempt number each time <c>status --wait</c> found the service not ready and waits.</summary>
    internal Action<int>? Retrying { get; set; }

    public static Task<int> RunConsoleAsync(string[] args) => new CliApp(Console.Out, Console.Error).RunAsync(args, CancellationToken.None);

    public async Task<int> RunAsync(string[] args, CancellationToken ct)
    {
        if (SplitExec(args) is { } exec)
        {
            return await ExecAsync(exec.Host, exec.Name, exec.Command, ct); // CliApp.Sandbox.cs
        }

        RootCommand root = Build();
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0 && !IsHelp(args))
        {
            foreach (System.CommandLine.Parsing.ParseError e in parse.Errors)
            {
                await _err.WriteLineAsync($"portpublisher: {e.Message}");
            }

            await _err.WriteLineAsync("See 'portpublisher --help'.");
            return ExitCodes.Usage;
        }

        if (!IsHelp(args))
        {
            return await parse.InvokeAsync(new InvocationConfiguration { Output = _out, Error = _err }, ct);
        }

        using var help = new StringWriter();
        int code = await parse.InvokeAsync(new InvocationConfiguration { Output = help, Error = _err }, ct);
        await _out.WriteAsync(HelpText.FixCommandLabels(help.ToString(), root.Subcommands));
        return code;
    }

    private static bool IsHelp(string[] args) => args.Any(a => a is "--help" or "-h" or "-?");

    private RootCommand Build()
    {
        var root = new RootCommand("Publish ports of Linux network namespaces the way `docker run -p` does.");
        root.Options.Add(_host);

        // Our own --version: System.CommandLine's refuses any other token, -H included, which scripts pass everywhere.
        // It never contacts the service.
        root.Options.Remove(root.Options.OfType<VersionOption>().Single());
        root.Options.Add(_version);
        root.SetAction(async (p, _) =>
        {
            if (p.GetValue(_version))
            {
                await _out.WriteLineAsync(Version);
                return ExitCodes.Ok;
            }

            await _err.WriteLineAsync("portpublisher: a command is required (publish, port, unpublish, ls, status, cleanup, sandbox, exec)");
            await _err.WriteLineAsync("See 'portpublisher --help'.");
            return ExitCodes.Usage;
        });

        root.Subcommands.Add(BuildPublish());
        root.Subcommands.Add(BuildPort());
        root.Subcommands.Add(BuildUnpublish());
        root.Subcommands.Add(BuildList());
        root.Subcommands.Add(BuildStatus());
        root.Subcommands.Add(BuildCleanup());
        root.Subcommands.Add(BuildSandbox()); // sandboxes (issue 12): CliApp.Sandbox.cs
        root.Subcommands.Add(BuildExec());
        return root;
    }

    private Command BuildPublish()
    {
        var name = new Argument<string>("NAME") { Description = "Publication name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)" };
        var netns = new Option<string>("--netns") { Description = "Target namespace: an `ip netns` name, a path such as /proc/PID/ns/net, container:NAME, or host", Required = true };
        var publish = new Option<string[]>("--publish", "-p")
        {
            Description = "A port to publish, in docker's -p syntax: [[ip:][hostPort]:]containerPort[/proto], ranges, [v6] hosts, or published=,target=,protocol=",
            Required = true,
            Arity = ArgumentArity.OneOrMore,
        };
        // No default here: a mode is sent only when given, so the service's own --mode applies otherwise.
        var mode = new Option<string?>("--mode") { Description = "How traffic is carried: auto (NAT where it can, else proxy), nat, or proxy (default: the service's --mode)" };
        mode.AcceptOnlyFromAmong("auto", "nat", "proxy");
        var ip = new Option<string?>("--ip") { Description = "The address inside the namespace to send traffic to (default: discovered)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Show the bindings that would be made; change nothing" };
        var cmd = new Command("publish", "Publish ports of a network namespace") { name, netns, publish, mode, ip, dryRun };
        cmd.SetAction(async (p, ct) =>
        {
            string? n = await ValidateNameAsync(p.GetValue(name)!);
            if (n is null)
            {
                return ExitCodes.Usage;
            }

            string[] specs = p.GetValue(publish) ?? [];
            bool bad = false;
            foreach (string spec in specs)
            {
                try
                {
                    PortSpecParser.Parse(spec);
                }
                catch (PortSpecException e)
                {
                    await _err.WriteLineAsync($"portpublisher: invalid -p {GoNet.Quote(spec)}: {e.Message}");
                    bad = true;
                }
            }

            string? targetIp = p.GetValue(ip);
            if (targetIp is not null && !IPAddress.TryParse(targetIp, out _))
            {
                await _err.WriteLineAsync($"portpublisher: invalid --ip {GoNet.Quote(targetIp)}: not an IP address");
                bad = true;
            }

            if (bad)
            {
                return ExitCodes.Usage;
            }

            PublishMode? chosen = PublishModeNames.TryParse(p.GetValue(mode), out PublishMode m) ? m : null;
            var request = new PublishRequest(n, p.GetValue(netns)!, specs, chosen, targetIp, p.GetValue(dryRun));
            return await CallAsync(p, async client =>
            {
                PublicationDto result = await client.PublishAsync(request, ct);
                if (request.DryRun)
                {
                    // Marked where scripts that read stdout do not see it: stdout is exactly what a real publish prints.
                    await _err.WriteLineAsync("dry run: nothing was published");
                }

                foreach (string w in result.Warnings ?? [])
                {
                    await _err.WriteLineAsync($"WARNING: {w}");
                }

                await _out.WriteAsync(DockerPortFormatter.Format(result.Name, result.ToPortMap(), null).Stdout);
                return ExitCodes.Ok;
            });
        });
        return cmd;
    }

    private Command BuildPort()
    {
        var name = new Argument<string>("NAME") { Description = "Publication name" };
        var port = new Argument<string?>("PRIVATE_PORT[/PROTO]") { Description = "Show only this container port", Arity = ArgumentArity.ZeroOrOne };
        var legacy = new Option<bool>("--legacy-format") { Description = "Print as docker ≤ 20.10 did (:::49155, unsorted)" };
        var cmd = new Command("port", "List port mappings of a publication, exactly as `docker port` prints them") { name, port, legacy };
        cmd.SetAction(async (p, ct) =>
        {
            string container = p.GetValue(name)!;
            if (container.Length == 0)
            {
                await _err.WriteLineAsync("invalid container name or ID: value is empty");
                return ExitCodes.Failed;
            }

            return await CallAsync(p, async client =>
            {
                PublicationDto publication;
                try
                {
                    publication = await client.GetAsync(container.TrimStart('/'), ct);
                }
                catch (ServiceErrorException e)
                {
                    // docker port's words, byte for byte, whatever our native route says.
                    string message = e.Status == HttpStatusCode.NotFound ? $"No such container: {container}" : e.Message;
                    await _err.WriteLineAsync($"Error response from daemon: {message}");
                    return ExitCodes.Failed;
                }

                CommandOutput output = DockerPortFormatter.Format(container, publication.ToPortMap(), p.GetValue(port), p.GetValue(legacy) ? DockerPortStyle.Legacy : DockerPortStyle.Current);
                await _out.WriteAsync(output.Stdout);
                await _err.WriteAsync(output.Stderr);
                return output.ExitCode;
            });
        });
        return cmd;
    }

    private Command BuildUnpublish()
    {
        var name = new Argument<string>("NAME") { Description = "Publication name" };
        var cmd = new Command("unpublish", "Remove a publication: its ports, rules and listeners") { name };
        cmd.SetAction(async (p, ct) =>
        {
            string? n = await ValidateNameAsync(p.GetValue(name)!);
            return n is null ? ExitCodes.Usage : await CallAsync(p, async client =>
            {
                await client.DeleteAsync(n, ct);
                await _out.WriteLineAsync(n);
                return ExitCodes.Ok;
            });
        });
        return cmd;
    }

    private Command BuildList()
    {
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };
        var cmd = new Command("ls", "List publications") { json };
        cmd.SetAction(async (p, ct) => await CallAsync(p, async client =>
        {
            List<PublicationDto> all = await client.ListAsync(ct);
            if (p.GetValue(json))
            {
                await _out.WriteLineAsync(JsonSerializer.Serialize(all, ApiJsonContext.Default.ListPublicationDto));
                return ExitCodes.Ok;
            }

            await _out.WriteAsync(PublicationTable.Format(all));
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    private Command BuildStatus()
    {
        var wait = new Option<string?>("--wait")
        {
            HelpName = "SECONDS",
            Description = "Wait up to SECONDS for the service to answer (exit 0 once it does, 69 if it does not in time), as after starting it",
        };
        var cmd = new Command("status", "Show the service's version, settings, backend, sysctls and counts") { wait };
        cmd.SetAction(async (p, ct) =>
        {
            TimeSpan? patience = null;
            if (p.GetValue(wait) is string text)
            {
                if (!double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double seconds) || seconds is <= 0 or > 86_400)
                {
                    await _err.WriteLineAsync($"portpublisher: invalid --wait {GoNet.Quote(text)}: use a number of seconds, such as 30");
                    return ExitCodes.Usage;
                }

                patience = TimeSpan.FromSeconds(seconds);
            }

            return await CallAsync(p, async client =>
            {
                StatusDto s = patience is { } limit ? await WaitForStatusAsync(client, limit, ct) : await client.StatusAsync(ct);
                await WriteStatusAsync(s);
                return ExitCodes.Ok;
            });
        });
        return cmd;
    }

    /// <summary>
    /// Asks for the status until the service answers: the socket may not exist yet (the service is starting, restoring
    /// its publications) or may refuse. Backs off from 50 ms to 1 s; each attempt and the whole wait end at the deadline,
    /// and the last reason is what the timeout reports. Permission denied ends it at once: waiting cannot fix that.
    /// </summary>
    private async Task<StatusDto> WaitForStatusAsync(ServiceClient client, TimeSpan limit, CancellationToken ct)
    {
        long started = _time.GetTimestamp();
        TimeSpan delay = TimeSpan.FromMilliseconds(50);
        string? why = null;
        for (int attempt = 1; ; attempt++)
        {
            TimeSpan left = limit - _time.GetElapsedTime(started);
            using (var attemptCts = new CancellationTokenSource(left > TimeSpan.Zero ? left : TimeSpan.Zero, _time))
            using (var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, attemptCts.Token))
            {
                try
                {
                    return await client.StatusAsync(linked.Token);
                }
                catch (ServiceUnavailableException e)
                {
                    why = e.Message;
                }
                catch (ServiceErrorException e) when ((int)e.Status >= 500)
                {
                    why = e.Message; // up but not ready, or stopping before a restart
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    // The deadline cut this attempt short; an earlier attempt's reason says more, if there was one.
                    why ??= $"the service at {client.SocketPath} did not answer";
                }
            }

            left = limit - _time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                throw new ServiceUnavailableException($"not ready within {limit.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s: {why}");
            }

            Retrying?.Invoke(attempt);
            await Task.Delay(delay < left ? delay : left, _time, ct);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.TicksPerSecond));
        }
    }

    private async Task WriteStatusAsync(StatusDto s)
    {
        var rows = new List<(string, string?)>
        {
            ("Version", s.Version),
            ("Backend", s.Backend),
            ("Mode", s.Mode),
            ("Table", s.Table is null ? null : $"ip {s.Table}, ip6 {s.Table}"),
            ("State dir", s.StateDir),
            ("Socket", s.Socket),
            ("Open files", s.OpenFileLimit?.ToString(CultureInfo.InvariantCulture)),
            ("Publications", s.Publications.ToString(CultureInfo.InvariantCulture)),
            ("Bindings", s.Bindings.ToString(CultureInfo.InvariantCulture)),
        };
        foreach ((string label, string? value) in rows)
        {
            if (value is not null)
            {
                await _out.WriteLineAsync($"{label + ":",-14}{value}");
            }
        }

        await _out.WriteLineAsync("Sysctls:");
        foreach (KeyValuePair<string, string> kv in s.Sysctls)
        {
            await _out.WriteLineAsync($"  {kv.Key} = {kv.Value}");
        }
    }

    private Command BuildCleanup()
    {
        var table = new Option<string>("--table")
        {
            HelpName = "NAME",
            Description = $"The service's nftables table name, its --table (default {ServiceFootprint.DefaultTable})",
            DefaultValueFactory = _ => ServiceFootprint.DefaultTable,
        };
        var stateDir = new Option<string>("--state-dir")
        {
            HelpName = "DIR",
            Description = $"The service's state directory, its --state-dir (default {ServiceFootprint.DefaultStateDir})",
            DefaultValueFactory = _ => ServiceFootprint.DefaultStateDir,
        };
        var cmd = new Command(
            "cleanup",
            "Remove what the service left: with it running, unpublish everything; once it is stopped, its nftables tables and state (root, in its network namespace)")
        {
            table,
            stateDir,
        };
        cmd.SetAction(async (p, ct) =>
        {
            string tableName = p.GetValue(table)!;
            if (!HostCleanup.IsTableName(tableName))
            {
                await _err.WriteLineAsync($"portpublisher: invalid --table {GoNet.Quote(tableName)}: a letter, then up to 30 letters, digits, '_' or '-'");
                return ExitCodes.Usage;
            }

            string dir = p.GetValue(stateDir)!;
            if (!dir.StartsWith('/'))
            {
                await _err.WriteLineAsync($"portpublisher: invalid --state-dir {GoNet.Quote(dir)}: use an absolute path");
                return ExitCodes.Usage;
            }

            string? socket = ResolveHost(p, out string? hostError);
            if (socket is null)
            {
                await _err.WriteLineAsync($"portpublisher: {hostError}");
                return ExitCodes.Usage;
            }

            return await new HostCleanup(_out, _err).RunAsync(socket, tableName, dir, ct);
        });
        return cmd;
    }

    private async Task<string?> ValidateNameAsync(string name)
    {
        string? normalized = PublicationName.Normalize(name, out string? error);
        if (normalized is null)
        {
            await _err.WriteLineAsync($"portpublisher: {error}");
        }

        return normalized;
    }

    /// <summary>The socket path from -H, else PORTPUBLISHER_HOST, else the default; null with a one-line error naming the bad source.</summary>
    private string? ResolveHost(ParseResult p, out string? error) => ResolveHost(p.GetValue(_host), out error);

    /// <inheritdoc cref="ResolveHost(ParseResult, out string?)"/>
    private string? ResolveHost(string? hostOption, out string? error)
    {
        (string source, string host) = hostOption is string h ? ("-H ", h)
            : _env("PORTPUBLISHER_HOST") is string e ? ("PORTPUBLISHER_HOST=", e)
            : ("-H ", ServiceClient.DefaultHost);
        string? path = ServiceHost.Parse(host, out string? why);
        error = path is null ? $"{source}{host}: {why}" : null;
        return path;
    }

    private Task<int> CallAsync(ParseResult p, Func<ServiceClient, Task<int>> action) => CallAsync(p.GetValue(_host), action);

    private async Task<int> CallAsync(string? hostOption, Func<ServiceClient, Task<int>> action)
    {
        string? socket = ResolveHost(hostOption, out string? hostError);
        if (socket is null)
        {
            await _err.WriteLineAsync($"portpublisher: {hostError}");
            return ExitCodes.Usage;
        }

        using var client = new ServiceClient(socket);
        try
        {
            return await action(client);
        }
        catch (ServiceAccessDeniedException e)
        {
            await _err.WriteLineAsync($"portpublisher: {e.Message}");
            return ExitCodes.NoPermission;
        }
        catch (ServiceUnavailableException e)
        {
            await _err.WriteLineAsync($"portpublisher: {e.Message}. Is portpublisherd running?");
            return ExitCodes.Unavailable;
        }
        catch (ServiceErrorException e)
        {
            await _err.WriteLineAsync($"portpublisher: {e.Message}");
            return ExitCodes.Failed;
        }
    }
}
