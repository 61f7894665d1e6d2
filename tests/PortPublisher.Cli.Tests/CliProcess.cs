using System.Diagnostics;
using PortPublisher.TestKit;
using Xunit;

namespace PortPublisher.Cli.Tests;

/// <summary>Runs the CLI's binary as its own process: the native one in CI (<see cref="CliUnderTest"/>), else the JIT build beside the tests.</summary>
internal static class CliProcess
{
    /// <summary>How to start it; <paramref name="wrapper"/> (e.g. setpriv) goes in front.</summary>
    public static string[] Command(params string[] wrapper) => [.. wrapper, .. CliUnderTest.Command(Path.Combine(AppContext.BaseDirectory, "portpublisher.dll"))];

    /// <summary>
    /// Runs it with <paramref name="args"/> and no PORTPUBLISHER_HOST (as the in-process runs see none), within a
    /// minute: past that it is killed and the test fails.
    /// </summary>
    public static async Task<(int Exit, string Out, string Err)> RunAsync(string[] command, params string[] args)
    {
        var psi = new ProcessStartInfo(command[0], [.. command[1..], .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment.Remove("PORTPUBLISHER_HOST");
        psi.Environment["HOME"] = "/tmp";
        using Process p = Process.Start(psi)!;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        try
        {
            Task<string> o = p.StandardOutput.ReadToEndAsync(deadline.Token), e = p.StandardError.ReadToEndAsync(deadline.Token);
            await p.WaitForExitAsync(deadline.Token);
            return (p.ExitCode, await o, await e);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw;
        }
    }
}
