using Microsoft.Extensions.Configuration;
using PortPublisher.Service.Options;

namespace PortPublisher.Service.Hosting;

/// <summary>
/// Where the service's settings come from, lowest precedence first: built-in log levels, the JSON file, the environment
/// under the standard .NET names (<c>PortPublisher__Mode</c>, <c>Logging__LogLevel__Default</c>), the same names with
/// the <c>PORTPUBLISHER_</c> prefix (documented before the standard names worked; being the more specific, it wins over
/// them), and the command line. The host's own defaults are cleared first: they would read <c>appsettings.json</c> from
/// the binary's directory and the <c>ASPNETCORE_</c>/<c>DOTNET_</c> variables, which a daemon has no business with.
/// </summary>
internal static class ServiceConfiguration
{
    public const string DefaultFile = "/etc/portpublisher/portpublisher.json";

    /// <summary>
    /// Framework categories at Warning: ASP.NET Core writes five Information lines per request (every CLI call, every
    /// metrics scrape), and the host's lifetime lines repeat what our own start line says. Ours stay at Information.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string?> LogDefaults = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft"] = "Warning",
        ["Logging:LogLevel:System"] = "Warning",
    };

    private static readonly Dictionary<string, string> s_switches = new()
    {
        ["--socket"] = $"{PortPublisherOptions.Section}:Socket",
        ["--socket-group"] = $"{PortPublisherOptions.Section}:SocketGroup",
        ["--state-dir"] = $"{PortPublisherOptions.Section}:StateDir",
        ["--metrics"] = $"{PortPublisherOptions.Section}:Metrics",
        ["--mode"] = $"{PortPublisherOptions.Section}:Mode",
        ["--dynamic-ports"] = $"{PortPublisherOptions.Section}:DynamicPorts",
        ["--table"] = $"{PortPublisherOptions.Section}:Table",
        ["--metrics-per-binding"] = $"{PortPublisherOptions.Section}:MetricsPerBinding",
        ["--max-connections"] = $"{PortPublisherOptions.Section}:MaxConnections",
        ["--protect-tables"] = $"{PortPublisherOptions.Section}:ProtectTables",
        ["--host-mount-namespace"] = $"{Sandboxes.SandboxOptions.Section}:HostMountNamespace", // sandboxes (issue 12)
        ["--config"] = "Config",
    };

    /// <summary>
    /// Replaces <paramref name="configuration"/>'s sources with ours. <paramref name="file"/> is the <c>--config</c> file
    /// or, when none was given, <see cref="DefaultFile"/>, which may then be absent.
    /// </summary>
    /// <exception cref="InvalidOperationException">The file given with --config is missing, or a file is not valid JSON (the message says which and where).</exception>
    public static void Apply(IConfigurationBuilder configuration, string? file, string[] args)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        configuration.Sources.Clear();
        configuration.AddInMemoryCollection(LogDefaults);
        string path = file ?? DefaultFile;
        if (file is not null && !File.Exists(file))
        {
            throw new InvalidOperationException($"invalid --config \"{file}\": no such file");
        }

        try
        {
            configuration.AddJsonFile(path, optional: file is null, reloadOnChange: false);
        }
        catch (InvalidDataException e)
        {
            // "Failed to load configuration from file '…'", with the JSON reader's position in the inner exception.
            throw new InvalidOperationException($"invalid configuration file {path}: {e.InnerException?.Message ?? e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"cannot read configuration file {path}: {e.Message}", e);
        }

        configuration
            .AddEnvironmentVariables()
            .AddEnvironmentVariables("PORTPUBLISHER_")
            .AddCommandLine(args, s_switches);
    }
}
