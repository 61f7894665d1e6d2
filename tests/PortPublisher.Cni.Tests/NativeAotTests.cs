using System.Text.Json;
using PortPublisher.TestKit;
using Xunit;

namespace PortPublisher.Cni.Tests;

/// <summary>
/// The plugin as it ships: published with NativeAOT (no warnings: reflection-free JSON, no trimming surprises) and run in
/// an empty environment, as a runtime with no DOTNET_ROOT would run it.
/// </summary>
[Trait("Category", "Aot")]
public sealed class NativeAotTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ppcni-aot-").FullName;

    [Fact]
    public void PublishedNatively_ItRunsWithoutDotnet_AndSpeaksTheProtocol()
    {
        // scripts/test.sh publishes it once with packaging/publish.sh, as the package is built (warnings are errors
        // there); without it, this test publishes it.
        string bin = Environment.GetEnvironmentVariable("PORTPUBLISHER_CNI_BIN") ?? string.Empty;
        if (bin.Length == 0)
        {
            if (!File.Exists("/usr/bin/clang"))
            {
                Assert.Skip("NativeAOT links with clang (Debian package clang; scripts/test.sh installs it)");
            }

            string project = Path.Combine(PluginProcess.RepoRoot, "src", "PortPublisher.Cni", "PortPublisher.Cni.csproj");
            (int code, string stdout, string stderr) = Shell.Run("dotnet", ["publish", project, "-r", "linux-x64", "-c", "Release", "-o", _dir], timeoutMs: 600_000);
            Assert.True(code == 0, $"dotnet publish failed:\n{stdout}\n{stderr}");
            Assert.DoesNotContain(": warning ", stdout, StringComparison.Ordinal);
            bin = Path.Combine(_dir, "portpublisher-cni");
        }

        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(bin)!, "portpublisher-cni.dll")), "a native executable, not an apphost beside a dll");
        Assert.Equal("\u007fELF"u8.ToArray(), File.ReadAllBytes(bin).AsSpan(0, 4).ToArray()); // not a script wrapping the JIT build
        (int vcode, string version, _) = Shell.Run("/bin/sh", ["-c", $"echo '{{\"cniVersion\":\"0.4.0\"}}' | env -i CNI_COMMAND=VERSION {bin}"]);
        Assert.Equal(0, vcode);
        Assert.Equal("0.4.0", JsonDocument.Parse(version).RootElement.GetProperty("cniVersion").GetString());

        (int acode, string error, _) = Shell.Run("/bin/sh", ["-c", $"echo '{{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}}' | env -i CNI_COMMAND=ADD {bin}"]);
        Assert.Equal(1, acode);
        Assert.Equal(4, JsonDocument.Parse(error).RootElement.GetProperty("code").GetInt32());
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
