using System.CommandLine;
using System.Text;
using System.Text.Json;
using PortPublisher.Core.Api;
using PortPublisher.Core.DockerPort;
using PortPublisher.Core.Sandboxes;

namespace PortPublisher.Cli;

/// <summary>The <c>sandbox</c> verbs and <c>exec</c> (issue 12). Requests are checked here first, with the service's own validator.</summary>
public sealed partial class CliApp
{
    private static readonly string[] s_listHeader = ["NAME", "NETWORK", "IP", "HOSTNAME", "PORTS"];

    private static readonly JsonSerializerOptions s_indented = new(SandboxJsonContext.Default.Options) { WriteIndented = true };

    private Command BuildSandbox()
    {
        var cmd = new Command("sandbox", "Create and remove network namespaces the way `docker run --network` makes them (ip netns names)");
        cmd.Subcommands.Add(BuildSandboxCreate());
        cmd.Subcommands.Add(BuildSandboxList());
        cmd.Subcommands.Add(BuildSandboxInspect());
        cmd.Subcommands.Add(BuildSandboxRemove());
        return cmd;
    }

    private Command BuildSandboxCreate()
    {
        var name = new Argument<string>("NAME") { Description = "An `ip netns` name (no '/', not . or ..)" };
        var network = new Option<string?>("--network") { Description = "bridge (default: eth0 on the service's bridge pp0), none (only lo), host (no namespace), or container:OTHER (OTHER's namespace)" };
        var hostname = new Option<string?>("--hostname") { Description = "Its hostname (default: the first 12 characters of its ID)" };
        var dns = new Option<string[]>("--dns") { Description = "A nameserver for its resolv.conf (replaces the host's)" };
        var search = new Option<string[]>("--dns-search") { Description = "A search domain (replaces the host's)" };
        var dnsOption = new Option<string[]>("--dns-option") { Description = "A resolv.conf option (replaces the host's)" };
        var addHost = new Option<string[]>("--add-host") { Description = "HOST:IP for its /etc/hosts (IP may be host-gateway)" };
        var ip = new Option<string?>("--ip") { Description = "Its IPv4 address on the bridge (default: the first free one)" };
        var publish = new Option<string[]>("--publish", "-p") { Description = "A port to publish, in docker's -p syntax (as `publish NAME --netns NAME`)" };
        var cmd = new Command("create", "Create a sandbox; prints its ID") { name, network, hostname, dns, search, dnsOption, addHost, ip, publish };
        cmd.SetAction(async (p, ct) =>
        {
            var request = new SandboxCreateRequest(p.GetValue(name)!, p.GetValue(network), p.GetValue(hostname), p.GetValue(dns), p.GetValue(search), p.GetValue(dnsOption), p.GetValue(addHost), p.GetValue(ip), p.GetValue(publish));
            if (SandboxRequestValidator.Validate(request, out List<string> errors) is null)
            {
                foreach (string e in errors)
                {
                    await _err.WriteLineAsync($"portpublisher: {e}");
                }

                return ExitCodes.Usage;
            }

            return await CallAsync(p, async client =>
            {
                SandboxDto s = await client.SendAsync(
                    new HttpRequestMessage(HttpMethod.Post, "v1/sandboxes") { Content = ServiceClient.Json(request, SandboxJsonContext.Default.SandboxCreateRequest) },
                    SandboxJsonContext.Default.SandboxDto,
                    ct);
                foreach (string w in s.Warnings ?? [])
                {
                    await _err.WriteLineAsync($"WARNING: {w}");
                }

                await _out.WriteLineAsync(s.Id);
                return ExitCodes.Ok;
            });
        });
        return cmd;
    }

    private Command BuildSandboxList()
    {
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };
        var cmd = new Command("ls", "List sandboxes") { json };
        cmd.SetAction(async (p, ct) => await CallAsync(p, async client =>
        {
            List<SandboxDto> all = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "v1/sandboxes"), SandboxJsonContext.Default.ListSandboxDto, ct);
            if (p.GetValue(json))
            {
                await _out.WriteLineAsync(JsonSerializer.Serialize(all, SandboxJsonContext.Default.ListSandboxDto));
                return ExitCodes.Ok;
            }

            var rows = new List<string[]> { s_listHeader };
            foreach (SandboxDto s in all)
            {
                string ports = s.Publication is { } pub ? PublicationTable.Ports(pub) : string.Empty;
                rows.Add([s.Name, s.Phase is { } phase ? $"{s.Network} ({phase})" : s.Network, s.Ip ?? string.Empty, s.Hostname, ports]);
            }

            int[] widths = [.. Enumerable.Range(0, 4).Select(c => rows.Max(r => r[c].Length))];
            var sb = new StringBuilder();
            foreach (string[] r in rows)
            {
                sb.Append((string.Join("   ", r.Take(4).Select((v, i) => v.PadRight(widths[i]))) + "   " + r[4]).TrimEnd()).Append('\n');
            }

            await _out.WriteAsync(sb.ToString());
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    private Command BuildSandboxInspect()
    {
        var name = new Argument<string>("NAME") { Description = "Sandbox name" };
        var cmd = new Command("inspect", "Show a sandbox as JSON: its namespace files, address, bridge, veth, MAC, hostname and ports") { name };
        cmd.SetAction(async (p, ct) => await CallAsync(p, async client =>
        {
            SandboxDto s = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"v1/sandboxes/{Uri.EscapeDataString(p.GetValue(name)!)}"), SandboxJsonContext.Default.SandboxDto, ct);
            await _out.WriteLineAsync(JsonSerializer.Serialize(s, s_indented.GetTypeInfo(typeof(SandboxDto))));
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    private Command BuildSandboxRemove()
    {
        var names = new Argument<string[]>("NAME") { Description = "Sandbox names; a sandbox that joins another (container:OTHER) is removed before it", Arity = ArgumentArity.OneOrMore };
        var force = new Option<bool>("--force", "-f") { Description = "Kill the processes still running in them (SIGKILL), as `docker rm -f` does; without it, a sandbox with processes in it is refused" };
        var cmd = new Command("rm", "Remove sandboxes: their namespaces, veths, files, UTS pins and ports") { names, force };
        cmd.SetAction(async (p, ct) =>
        {
            string[] given = p.GetValue(names) ?? [];
            foreach (string n in given)
            {
                if (SandboxName.Check(n) is { } bad)
                {
                    await _err.WriteLineAsync($"portpublisher: {bad}");
                    return ExitCodes.Usage;
                }
            }

            return await CallAsync(p, async client =>
            {
                // Joiners first, so that "rm a1 a2 a3" works whichever order a3 (container:a2), a2 (container:a1)
                // and a1 are named in: deepest first.
                List<SandboxDto> all = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "v1/sandboxes"), SandboxJsonContext.Default.ListSandboxDto, ct);
                string suffix = p.GetValue(force) ? "?force=true" : string.Empty;
                int code = ExitCodes.Ok;
                foreach (string n in RemovalOrder.Of(all, given))
                {
                    try
                    {
                        await client.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"v1/sandboxes/{Uri.EscapeDataString(n)}{suffix}"), SandboxJsonContext.Default.SandboxDto, ct);
                        await _out.WriteLineAsync(n);
                    }
                    catch (ServiceErrorException e)
                    {
                        await _err.WriteLineAsync($"portpublisher: {e.Message}");
                        code = ExitCodes.Failed;
                    }
                }

                return code;
            });
        });
        return cmd;
    }

    private Command BuildExec()
    {
        var name = new Argument<string>("NAME") { Description = "Sandbox name" };
        var command = new Argument<string[]>("CMD") { Description = "The command and its arguments; everything after NAME (or after --) is CMD's", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("exec", "Run a command inside a sandbox: its network, hostname (UTS) and /etc/netns files, as `ip netns exec` (root)") { name, command };
        cmd.SetAction(async (p, ct) => await ExecAsync(p.GetValue(_host), p.GetValue(name)!, p.GetValue(command) ?? [], ct));
        return cmd;
    }

    /// <summary>
    /// <c>exec</c> is split off before System.CommandLine sees it: CMD's own options (<c>python3 -m</c>, <c>curl -H</c>)
    /// must stay CMD's, as with <c>ip netns exec</c> and <c>docker exec</c>. Null: not an exec line it can take whole
    /// (help, a missing name or command); the parser then explains.
    /// </summary>
    private static (string? Host, string Name, string[] Command)? SplitExec(string[] args)
    {
        string? host = null;
        int i = 0;
        bool afterVerb = false;
        while (i < args.Length)
        {
            string a = args[i];
            if (a is "-H" or "--host" && i + 1 < args.Length)
            {
                host = args[i + 1];
                i += 2;
            }
            else if (a.StartsWith("--host=", StringComparison.Ordinal))
            {
                host = a["--host=".Length..];
                i++;
            }
            else if (!afterVerb && a == "exec")
            {
                afterVerb = true;
                i++;
            }
            else
            {
                break;
            }
        }

        if (!afterVerb || i >= args.Length || args[i].StartsWith('-'))
        {
            return null;
        }

        string name = args[i++];
        if (i < args.Length && args[i] == "--")
        {
            i++;
        }

        return i < args.Length ? (host, name, args[i..]) : null;
    }

    private async Task<int> ExecAsync(string? host, string name, string[] command, CancellationToken ct)
    {
        if (SandboxName.Check(name) is { } bad)
        {
            await _err.WriteLineAsync($"portpublisher: {bad}");
            return ExitCodes.Usage;
        }

        SandboxDto? sandbox = null;
        int code = await CallAsync(host, async client =>
        {
            sandbox = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"v1/sandboxes/{Uri.EscapeDataString(name)}"), SandboxJsonContext.Default.SandboxDto, ct);
            return ExitCodes.Ok;
        });
        if (sandbox is null)
        {
            return code;
        }

        await _out.FlushAsync(ct);
        await _err.FlushAsync(ct);
        return SandboxExec.Run(sandbox, command, _err);
    }
}
