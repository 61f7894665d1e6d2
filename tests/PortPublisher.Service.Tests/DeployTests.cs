using Xunit;
using PortPublisher.TestKit;
using static PortPublisher.Service.Tests.Net;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

public sealed class DeployTests
{
    [Fact]
    public void Unit_PassesSystemdAnalyzeVerify()
    {
        if (!File.Exists("/usr/bin/systemd-analyze") && !File.Exists("/bin/systemd-analyze"))
        {
            Assert.Skip("systemd-analyze is not installed (Debian package systemd)");
        }

        string root = Lab.RepoRoot;
        string unit = File.ReadAllText(Path.Combine(root, "deploy", "portpublisher.service"));
        Assert.Contains("Type=notify", unit, StringComparison.Ordinal);
        Assert.Contains("CapabilityBoundingSet=CAP_NET_ADMIN CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_NET_BIND_SERVICE CAP_SYS_CHROOT CAP_DAC_OVERRIDE CAP_KILL", unit, StringComparison.Ordinal);

        // ExecStart pins nothing that /etc/portpublisher/portpublisher.json is meant to set.
        Assert.Equal("/usr/lib/portpublisher/portpublisherd", UnitFile.Deployed.Get("ExecStart"));

        // verify also checks that ExecStart exists: point it at a binary that does (the unit is otherwise unchanged).
        string dir = Directory.CreateTempSubdirectory("pp-unit-").FullName;
        try
        {
            string copy = Path.Combine(dir, "portpublisher.service");
            File.WriteAllText(copy, unit.Replace("/usr/lib/portpublisher/portpublisherd", "/bin/true", StringComparison.Ordinal));
            (_, string stdout, string stderr) = Run("systemd-analyze", ["verify", copy]);

            // Documentation=man:… pages exist only where the package installed them; PackageTests verifies the
            // installed unit with them. Anything else verify says is a failure.
            string[] problems = [.. (stdout + stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Where(l => !System.Text.RegularExpressions.Regex.IsMatch(l, @"^portpublisher\.service: Command 'man portpublisherd?\([18]\)' failed with code 16$"))];
            Assert.True(problems.Length == 0, string.Join('\n', problems));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Unit_SecurityExposure_StaysAtTheReadmesScore()
    {
        if (!File.Exists("/usr/bin/systemd-analyze") && !File.Exists("/bin/systemd-analyze"))
        {
            Assert.Skip("systemd-analyze is not installed (Debian package systemd)");
        }

        // README "The unit" gives 3.0; a directive dropped or weakened raises it.
        (int code, string stdout, string stderr) = Run("systemd-analyze", ["security", "--offline=yes", "--no-pager", Path.Combine(Lab.RepoRoot, "deploy", "portpublisher.service")]);
        System.Text.RegularExpressions.Match m = System.Text.RegularExpressions.Regex.Match(stdout, @"Overall exposure level for portpublisher\.service: (\d+\.\d)");
        Assert.True(code == 0 && m.Success, stdout + stderr);
        Assert.True(double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) <= 3.0, m.Value);
    }
}
