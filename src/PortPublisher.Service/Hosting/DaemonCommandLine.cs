using System.CommandLine;
using PortPublisher.Service.Options;

namespace PortPublisher.Service.Hosting;

/// <summary>
/// <c>portpublisherd</c>'s own command line: <c>--help</c> and <c>--version</c> answer and exit, unknown options and
/// malformed values are refused (exit 2), and nothing else happens until the line is right. A service that programs
/// nftables must never start because someone asked it for help. The values themselves are checked with everything the
/// file and environment set, by <see cref="OptionsCheck"/>.
/// </summary>
internal static class DaemonCommandLine
{
    public const int Usage = 2;

    /// <summary>
    /// Exit null: go on and run, with <c>Config</c> the <c>--config</c> file if one was given; else the exit code (help,
    /// version, or a usage error already printed).
    /// </summary>
    public static async Task<(int? Exit, string? Config)> HandleAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        bool run = false;
        RootCommand root = Build(() => run = true, out Option<string> config);
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0 && !args.Any(a => a is "--help" or "-h" or "-?"))
        {
            foreach (System.CommandLine.Parsing.ParseError e in parse.Errors)
            {
                await stderr.WriteLineAsync($"portpublisherd: {e.Message}");
            }

            await stderr.WriteLineAsync("See 'portpublisherd --help'.");
            return (Usage, null);
        }

        int code = await parse.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr });
        return run ? (null, parse.GetValue(config)) : (code, null);
    }

    private static RootCommand Build(Action run, out Option<string> config)
    {
        config = Opt("--config", "FILE", $"Settings file (default {ServiceConfiguration.DefaultFile}, which may be absent; a file named here must exist)");
        var root = new RootCommand(
            "portpublisherd: publishes ports of Linux network namespaces (nftables DNAT, or a userland proxy where NAT cannot serve) "
            + "for the `portpublisher` CLI and the docker CLI, on a Unix socket. Each option is also a setting "
            + "PortPublisher:<Name> (Socket, SocketGroup, StateDir, Metrics, Mode, DynamicPorts, Table, MetricsPerBinding, "
            + "MaxConnections, ProtectTables; --host-mount-namespace is Sandbox:HostMountNamespace) in the JSON file, or an "
            + "environment variable PortPublisher__<Name>; log levels are "
            + "Logging:LogLevel:<Category> (Logging__LogLevel__Default=Debug). The command line wins over the environment, "
            + "which wins over the file.")
        {
            config,
            Opt("--socket", "PATH", "The control API's Unix socket (default /run/portpublisher/portpublisher.sock)"),
            Opt("--socket-group", "GROUP", "Group allowed to use the socket (mode 0660)"),
            Opt("--state-dir", "DIR", "Where publications survive restarts (default /var/lib/portpublisher); one service per directory"),
            Opt("--metrics", "ADDR:PORT", "Prometheus endpoint (default 127.0.0.1:9469; empty: off)"),
            Opt("--mode", "auto|nat|proxy", "Default carrier: auto (NAT where it can, else proxy), nat, or proxy"),
            Opt("--dynamic-ports", "START-END", "Range for dynamic host ports (default: the kernel's ip_local_port_range)"),
            Opt("--table", "NAME", "Name of our ip/ip6 nftables tables (default portpublisher); one service per table per namespace"),
            Boolean("--metrics-per-binding", "Label proxy and NAT metrics per host port too"),
            Boolean("--protect-tables", "Own the nftables tables so that no other tool can flush them while the service runs (default true; Linux 6.9+)"),
            new Option<int>("--max-connections") { HelpName = "N", Description = "Proxied TCP connections one binding relays at once (default 4096)" },
            Opt("--host-mount-namespace", "PATH", "Make sandboxes' namespace files, UTS pins and /etc/netns files in this mount namespace (e.g. /proc/1/ns/mnt), so the host sees them from a sandboxed unit; \"self\": the service's own (default auto: PID 1's when the service runs in a mount namespace of its own)"),
        };
        root.SetAction(_ => run());
        return root;
    }

    /// <summary>A value, not a flag: the configuration binder reads it as text, so "maybe" must be caught here.</summary>
    private static Option<string> Boolean(string name, string description)
    {
        Option<string> o = Opt(name, "true|false", description);
        o.Validators.Add(r =>
        {
            string? v = r.GetValueOrDefault<string>();
            if (!bool.TryParse(v, out _))
            {
                r.AddError($"invalid {name} \"{v}\": use true or false");
            }
        });
        return o;
    }

    private static Option<string> Opt(string name, string help, string description) =>
        new(name) { HelpName = help, Description = description, Arity = ArgumentArity.ExactlyOne };
}
