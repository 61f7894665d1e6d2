using Microsoft.Extensions.Logging;
using PortPublisher.Cni;

// The CNI_* variables and the configuration on stdin in; the result or a CNI error on stdout; logs on stderr.
// PORTPUBLISHER_CNI_LOG=debug|info|warning|error sets how much stderr gets (default info).
LogLevel level = Environment.GetEnvironmentVariable("PORTPUBLISHER_CNI_LOG") switch
{
    "debug" => LogLevel.Debug,
    "warning" => LogLevel.Warning,
    "error" => LogLevel.Error,
    _ => LogLevel.Information,
};
var plugin = new CniPlugin(TimeProvider.System, new StderrLogger(Console.Error, level));
using Stream stdin = Console.OpenStandardInput();
using Stream stdout = Console.OpenStandardOutput();
return await plugin.RunAsync(Environment.GetEnvironmentVariables(), stdin, stdout, Console.Error, CancellationToken.None);
