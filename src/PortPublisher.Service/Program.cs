using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PortPublisher.Service.Api;
using PortPublisher.Service.Hosting;
using PortPublisher.Service.Logging;
using PortPublisher.Service.Metrics;
using PortPublisher.Service.Options;
using PortPublisher.Service.Publications;
using PortPublisher.Service.Sandboxes;
using Prometheus;

// Only metrics that lint clean with promtool: the adapters for .NET event counters and meters emit names with
// _total/_count suffixes on gauges. Process metrics (CPU, memory, fds) stay.
Prometheus.Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions { SuppressProcessMetrics = false, SuppressEventCounters = true, SuppressMeters = true });

// --help, --version and a bad command line end here, before anything is read or touched.
(int? exit, string? configFile) = await DaemonCommandLine.HandleAsync(args, Console.Out, Console.Error);
if (exit is int code)
{
    return code;
}

OpenFileLimit.Raise();

WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
try
{
    ServiceConfiguration.Apply(builder.Configuration, configFile, args);
}
catch (InvalidOperationException e)
{
    await Console.Error.WriteLineAsync($"portpublisherd: {e.Message}");
    return DaemonCommandLine.Usage;
}

builder.Services.AddSystemd();
builder.Services.AddOptions<PortPublisherOptions>().BindConfiguration(PortPublisherOptions.Section).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddPublications();
builder.Services.AddSandboxes(); // sandboxes (issue 12)
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(8));
builder.Services.AddSingleton<MetricsCollector>();
builder.Services.AddHostedService(sp => new SystemdWatchdog(
    sp.GetService<Microsoft.Extensions.Hosting.Systemd.ISystemdNotifier>(), sp.GetRequiredService<CommandQueue>(), sp.GetRequiredService<TimeProvider>(), SystemdWatchdog.IntervalFromEnvironment()));

// Into the journal: systemd's formatter, whose <6>-style prefixes journald turns into priorities (and which leaves the
// time to the journal). Elsewhere one line per event with the time. Decided here, after AddSystemd, because AddSystemd
// picks the formatter by the parent process alone, and a later AddSimpleConsole would override it regardless.
builder.Logging.ClearProviders();
if (JournalStream.IsConnected())
{
    builder.Logging.AddSystemdConsole(o => o.IncludeScopes = false);
}
else
{
    builder.Logging.AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss.fff ";
    });
}

PortPublisherOptions options;
try
{
    options = builder.Configuration.GetSection(PortPublisherOptions.Section).Get<PortPublisherOptions>() ?? new PortPublisherOptions();
}
catch (InvalidOperationException e)
{
    // A value of the wrong type (--metrics-per-binding maybe, --max-connections many), from any source.
    await Console.Error.WriteLineAsync($"portpublisherd: invalid setting: {e.Message} ({e.InnerException?.Message})");
    return DaemonCommandLine.Usage;
}

if (OptionsCheck.Problems(options, builder.Configuration[$"{PortPublisher.Service.Sandboxes.SandboxOptions.Section}:HostMountNamespace"]) is { Count: > 0 } problems)
{
    foreach (string problem in problems)
    {
        await Console.Error.WriteLineAsync($"portpublisherd: {problem}");
    }

    return DaemonCommandLine.Usage;
}

// One service per state directory, decided before the socket, the tables or the state are touched.
StateDirectoryLock instanceLock;
NamespaceTableLock tableLock;
try
{
    instanceLock = StateDirectoryLock.Acquire(options.StateDir);
    try
    {
        tableLock = NamespaceTableLock.Acquire(options.Table);
    }
    catch
    {
        instanceLock.Abandon();
        throw;
    }
}
catch (InvalidOperationException e)
{
    await Console.Error.WriteLineAsync($"portpublisherd: {e.Message}");
    return 1;
}

// Everything the service creates is owner-only unless it says otherwise, as under the unit's UMask=0077: the control
// socket above all, which would otherwise be connectable by anyone between its bind and the chmod that follows.
_ = Tmds.Linux.LibC.umask(0x3F /* 0077 */);

string? socketDir = Path.GetDirectoryName(options.Socket);
if (!string.IsNullOrEmpty(socketDir) && !Directory.Exists(socketDir))
{
    // Traversable by the socket's group (the socket's own mode is the access control), as RuntimeDirectoryMode=0755.
    Directory.CreateDirectory(socketDir);
    File.SetUnixFileMode(socketDir, (UnixFileMode)0x1ED /* 0755 */);
}

try
{
    ControlSocketCheck.RemoveIfStale(options.Socket);
}
catch (InvalidOperationException e)
{
    await Console.Error.WriteLineAsync($"portpublisherd: {e.Message}");
    tableLock.Dispose();
    instanceLock.Abandon();
    return 1;
}

IPEndPoint? metricsEndPoint = string.IsNullOrEmpty(options.Metrics) ? null : IPEndPoint.Parse(options.Metrics);
builder.WebHost.ConfigureKestrel(k =>
{
    k.ListenUnixSocket(options.Socket);
    if (metricsEndPoint is not null)
    {
        k.Listen(metricsEndPoint);
    }
});

WebApplication app = builder.Build();

// The control API answers only on the Unix socket (its permissions are the access control); metrics only on TCP.
static bool OnControlSocket(HttpContext http) => http.Connection.LocalIpAddress is null;
ControlApi.Map(app, OnControlSocket);
DockerApi.Map(app, OnControlSocket);
SandboxApi.Map(app, OnControlSocket); // sandboxes (issue 12)
if (metricsEndPoint is not null)
{
    app.Services.GetRequiredService<MetricsCollector>().Register(Prometheus.Metrics.DefaultRegistry);
    app.MapMetrics("/metrics").AddEndpointFilter(async (ctx, next) => OnControlSocket(ctx.HttpContext) ? Results.NotFound() : await next(ctx));
}

app.Lifetime.ApplicationStarted.Register(() =>
{
    // Mode 0660 and the configured group: who may publish ports is who may open this socket.
    File.SetUnixFileMode(options.Socket, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
    if (!string.IsNullOrEmpty(options.SocketGroup))
    {
        // chgrp resolves the name through NSS as every tool does; it is bounded so a hung NSS backend cannot hold the start.
        using System.Diagnostics.Process? chgrp = System.Diagnostics.Process.Start("chgrp", [options.SocketGroup, options.Socket]);
        if (chgrp is null || !chgrp.WaitForExit(TimeSpan.FromSeconds(5)) || chgrp.ExitCode != 0)
        {
            Console.Error.WriteLine($"portpublisherd: could not give {options.Socket} to group {options.SocketGroup}; it stays the service's group");
        }
    }

    ServiceLog.Listening(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("PortPublisher"), options.Socket, metricsEndPoint is null ? "off" : $"on {metricsEndPoint}");
});

try
{
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (e is InvalidDataException or OptionsValidationException)
{
    await Console.Error.WriteLineAsync($"portpublisherd: {e.Message}");
    return 1;
}
finally
{
    tableLock.Dispose();
    instanceLock.Dispose();
}
