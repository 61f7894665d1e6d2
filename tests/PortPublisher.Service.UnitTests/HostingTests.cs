using System.Globalization;
using Microsoft.Extensions.Configuration;
using PortPublisher.Core.Api;
using PortPublisher.Service.Hosting;
using PortPublisher.Service.State;
using Xunit;

namespace PortPublisher.Service.UnitTests;

/// <summary>The hosting pieces that need no daemon: journal detection, the names cleanup relies on, configuration sources.</summary>
public sealed class HostingTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("12")]
    [InlineData("a:b")]
    [InlineData("1:2:3")]
    [InlineData("-1:5")]
    public void JournalStream_MalformedValueIsNotTheJournal(string? value) => Assert.False(JournalStream.IsConnected(value));

    [Fact]
    public unsafe void JournalStream_IsTheJournalOnlyWhenStdoutOrStderrIsThatStream()
    {
        Tmds.Linux.stat st;
        Assert.Equal(0, Tmds.Linux.LibC.fstat(2, &st));
        string dev = ((ulong)st.st_dev).ToString(CultureInfo.InvariantCulture), ino = ((ulong)st.st_ino).ToString(CultureInfo.InvariantCulture);
        Assert.True(JournalStream.IsConnected($"{dev}:{ino}"));

        // Inherited from a service by something whose output goes elsewhere: another inode.
        Assert.False(JournalStream.IsConnected($"{dev}:{(ulong)st.st_ino + 1}"));
    }

    /// <summary>
    /// Each refused start (and each cleanup) probes the holder, and probes wait in its accept queue: a blocking connect to
    /// a full queue never returns. Forty refusals in a burst, far past the backlog of 16, all return (the probe does not
    /// block); the holder drains its queue, so once the burst is over a refusal names the holder's PID again.
    /// </summary>
    [Fact]
    public async Task TableLock_ABurstOfRefusalsNeverHangsAndTheHolderIsNamedAgainAfterIt()
    {
        string table = $"t{Guid.NewGuid():N}"[..20]; // an abstract address of its own: no other test or service shares it
        string named = string.Create(CultureInfo.InvariantCulture, $"another portpublisherd (PID {Environment.ProcessId}) in this network namespace manages nftables table '{table}'");
        using NamespaceTableLock held = NamespaceTableLock.Acquire(table);
        string Refusal() => Assert.Throws<InvalidOperationException>(() => NamespaceTableLock.Acquire(table)).Message;
        Assert.StartsWith(named, Refusal(), StringComparison.Ordinal);
        await Task.Run(
            () =>
            {
                for (int i = 0; i < 40; i++)
                {
                    Assert.Contains($"in this network namespace manages nftables table '{table}'", Refusal(), StringComparison.Ordinal);
                }
            },
            TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        long deadline = Environment.TickCount64 + 10_000;
        while (!Refusal().StartsWith(named, StringComparison.Ordinal))
        {
            Assert.True(Environment.TickCount64 < deadline, "the holder's queue stayed full: it does not drain its probes");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public void CleanupFindsWhatTheServiceMakes()
    {
        Assert.Equal(StateStore.FileName, ServiceFootprint.StateFile);
        Assert.Equal(StateStore.JournalName, ServiceFootprint.StateJournal);
        Assert.Equal(Sandboxes.SandboxStore.FileName, ServiceFootprint.SandboxFile);
        Assert.Equal(StateDirectoryLock.FileName, ServiceFootprint.StateLockFile);
        var defaults = new Options.PortPublisherOptions();
        Assert.Equal((defaults.Socket, defaults.StateDir, defaults.Table), (ServiceFootprint.DefaultSocket, ServiceFootprint.DefaultStateDir, ServiceFootprint.DefaultTable));
    }

    [Fact]
    public void Configuration_CommandLineBeatsEnvironmentBeatsFileAndFrameworkLogsStartAtWarning()
    {
        string file = Path.Combine(Path.GetTempPath(), $"pp-config-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, """{"PortPublisher":{"Mode":"proxy","Table":"filetbl","Metrics":""},"Logging":{"LogLevel":{"Default":"Warning"}}}""");
        try
        {
            var builder = new ConfigurationManager();
            ServiceConfiguration.Apply(builder, file, ["--mode", "nat"]);
            Assert.Equal("nat", builder["PortPublisher:Mode"]); // command line over the file
            Assert.Equal("filetbl", builder["PortPublisher:Table"]);
            Assert.Equal("Warning", builder["Logging:LogLevel:Default"]); // the file over the built-in level
            Assert.Equal("Warning", builder["Logging:LogLevel:Microsoft"]);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("/nonexistent/pp.json", "invalid --config \"/nonexistent/pp.json\": no such file")]
    [InlineData("BAD", "invalid configuration file BAD: ")]
    public void Configuration_BadFileIsOneLineNamingIt(string file, string expected)
    {
        string? bad = null;
        if (file == "BAD")
        {
            bad = file = Path.Combine(Path.GetTempPath(), $"pp-config-{Guid.NewGuid():N}.json");
            expected = expected.Replace("BAD", bad, StringComparison.Ordinal);
            File.WriteAllText(bad, """{"PortPublisher": {"Mode": "nat",}""");
        }

        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => ServiceConfiguration.Apply(new ConfigurationManager(), file, []));
            Assert.StartsWith(expected, e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally
        {
            if (bad is not null)
            {
                File.Delete(bad);
            }
        }
    }
}
