using System.CommandLine;
using System.Net;
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

    private readonly Option<string?> _host = new("--host", "-H")
    {
        Description = $"The service socket, unix:///path (default: $PORTPUBLISHER_HOST, else {ServiceClient.DefaultHost})",
        Recursive = true,
    };

    public CliApp(TextWriter stdout, TextWriter stderr, Func<string, string?>? environment = null)
    {
        _out = stdout;
        _err = stderr;
        _env = environment ?? Environment.GetEnvironmentVariable;
    }

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

        return await parse.InvokeAsync(new InvocationConfiguration { Output = _out, Error = _err }, ct);
    }

    private static bool IsHelp(string[] args) => args.Any(a => a is "--help" or "-h" or "-?");

    private RootCommand Build()
    {
        var root = new RootCommand("Publish ports of Linux network namespaces the way `docker run -p` does.");
        root.Options.Add(_host);
        root.Subcommands.Add(BuildPublish());
        root.Subcommands.Add(BuildPort());
        root.Subcommands.Add(BuildUnpublish());
        root.Subcommands.Add(BuildList());
        root.Subcommands.Add(BuildStatus());
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
                    await _err.WriteLineAsync($"Error response from daemon: {e.Message}");
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
        var cmd = new Command("status", "Show the service's backend, sysctls and counts");
        cmd.SetAction(async (p, ct) => await CallAsync(p, async client =>
        {
            StatusDto s = await client.StatusAsync(ct);
            await _out.WriteLineAsync($"Version:      {s.Version}");
            await _out.WriteLineAsync($"Backend:      {s.Backend}");
            await _out.WriteLineAsync($"Publications: {s.Publications}");
            await _out.WriteLineAsync($"Bindings:     {s.Bindings}");
            foreach (KeyValuePair<string, string> kv in s.Sysctls)
            {
                await _out.WriteLineAsync($"{kv.Key} = {kv.Value}");
            }

            return ExitCodes.Ok;
        }));
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

    private Task<int> CallAsync(ParseResult p, Func<ServiceClient, Task<int>> action) => CallAsync(p.GetValue(_host), action);

    private async Task<int> CallAsync(string? hostOption, Func<ServiceClient, Task<int>> action)
    {
        string host = hostOption ?? _env("PORTPUBLISHER_HOST") ?? ServiceClient.DefaultHost;
        ServiceClient client;
        try
        {
            client = new ServiceClient(host);
        }
        catch (ArgumentException e)
        {
            await _err.WriteLineAsync($"portpublisher: {e.Message}");
            return ExitCodes.Usage;
        }

        using (client)
        {
            try
            {
                return await action(client);
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
}
