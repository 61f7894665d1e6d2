using System.Text.RegularExpressions;
using Xunit;

namespace PortPublisher.Service.Tests;

/// <summary>The service raises its soft RLIMIT_NOFILE to the hard limit at start (every published port holds a socket).</summary>
[Trait("Category", "Netns")]
public sealed partial class OpenFileLimitTests
{
    [Fact]
    public async Task StartedWithASoftLimitOf1024_RunsWithTheHardLimit()
    {
        await using Lab lab = await Lab.StartAsync();
        lab.StopService(kill: false);
        string hard = Regex.Match(File.ReadAllText("/proc/self/limits"), @"Max open files\s+\d+\s+(\d+)").Groups[1].Value;
        Assert.NotEqual("1024", hard); // else there is nothing to raise to
        lab.Wrapper = ["prlimit", $"--nofile=1024:{hard}", "--"];
        await lab.StartServiceAsync();

        Match m = OpenFiles().Match(File.ReadAllText($"/proc/{lab.ServicePid}/limits"));
        Assert.True(m.Success);
        Assert.Equal((hard, hard), (m.Groups[1].Value, m.Groups[2].Value));
    }

    [GeneratedRegex(@"Max open files\s+(\d+)\s+(\d+)")]
    private static partial Regex OpenFiles();
}
