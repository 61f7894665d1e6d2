using System.Text.RegularExpressions;
using Xunit;
using static PortPublisher.Service.Tests.Net;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

/// <summary>
/// What the service and the CLI say, end to end: each refusal names what happened and what to do, in our words on the
/// native routes and in Docker's on the Docker-compatible ones, and `ls`/`status` show what a user needs.
/// </summary>
[Trait("Category", "Netns")]
public sealed class MessageTests(LabFixture fixture) : IClassFixture<LabFixture>
{
    private Lab L
    {
        get
        {
            RequireRoot();
            return fixture.Lab;
        }
    }

    [Fact]
    public void SctpUnderModeProxy_SaysTheProxyDoesNotCarryItAndWhatToDo()
    {
        Lab lab = L;
        Assert.Equal(
            (1, string.Empty, "portpublisher: 0.0.0.0:9132->9132/sctp: the userland proxy does not carry SCTP (only NAT does): publish SCTP ports with --mode auto or nat, to a target address the host routes to\n"),
            lab.Cli("publish", "sctpx", "--netns", lab.Container, "-p", "9132:9132/sctp", "--mode", "proxy"));
        Assert.Equal(1, lab.Cli("port", "sctpx").Code);
    }

    [Fact]
    public void Ipv6LoopbackUnderModeNat_SaysItCannotBeDnatedAndWhatToDo()
    {
        Lab lab = L;
        Assert.Equal(
            (1, string.Empty, "portpublisher: [::1]:8181->80/tcp: NAT cannot carry this binding: ::1 cannot be DNAT'ed (the kernel keeps it on lo); use --mode auto or proxy\n"),
            lab.Cli("publish", "lo6", "--netns", lab.Container, "-p", "[::1]:8181:80", "--mode", "nat"));
    }

    [Fact]
    public void NameInUse_IsNamedWithoutDockersLeadingSlash()
    {
        Lab lab = L;
        Assert.Equal(0, lab.Cli("publish", "/dynm", "--netns", lab.Container, "-p", "7721:80").Code);
        try
        {
            const string Expected = "Conflict. The publication name \"dynm\" is already in use. Unpublish it first or choose another name.";
            Assert.Equal((1, string.Empty, $"portpublisher: {Expected}\n"), lab.Cli("publish", "/dynm", "--netns", lab.Container, "-p", "7722:80"));

            // The service strips it too, for API clients that send it.
            string body = """{"name":"/dynm","netns":"NS","specs":["7723:80"]}""".Replace("NS", lab.Container, StringComparison.Ordinal);
            Assert.Equal($"{{\"message\":\"{Expected.Replace("\"", "\\u0022", StringComparison.Ordinal)}\"}} 409", Curl("-X", "POST", "-H", "Content-Type: application/json", "--data", body, "http://pp/v1/publications"));
        }
        finally
        {
            lab.Cli("unpublish", "dynm");
        }
    }

    [Fact]
    public void MissingPublication_IsOurWordsOnNativeRoutesAndDockersOnDockers()
    {
        Assert.Equal("{\"message\":\"no such publication: missing\"} 404", Curl("http://pp/v1/publications/missing"));
        Assert.Equal("{\"message\":\"no such publication: missing\"} 404", Curl("-X", "DELETE", "http://pp/v1/publications/missing"));
        Assert.Equal("{\"message\":\"No such container: missing\"} 404", Curl("http://pp/v1.50/containers/missing/json"));
        Assert.Equal((1, string.Empty, "Error response from daemon: No such container: missing\n"), L.Cli("port", "missing"));
    }

    [Fact]
    public void Ls_ShowsEachPublicationsCarrier()
    {
        Lab lab = L;
        Assert.Equal(0, lab.Cli("publish", "carn", "--netns", lab.Container, "-p", $"{Lab.HostV4}:7711:80").Code);
        Assert.Equal(0, lab.Cli("publish", "carm", "--netns", lab.Container, "-p", "7712:80").Code);
        Assert.Equal(0, lab.Cli("publish", "carp", "--netns", lab.Container, "-p", "7713:80", "--mode", "proxy").Code);
        try
        {
            (int code, string stdout, _) = lab.Cli("ls");
            Assert.Equal(0, code);
            Assert.Matches(@"^NAME +NETNS +CARRIER +PORTS\n", stdout);
            Assert.Matches(@"\ncarn +\S+ +nat +192\.0\.2\.1:7711->80/tcp\n", stdout);
            Assert.Matches(@"\ncarm +\S+ +mixed +0\.0\.0\.0:7712->80/tcp, \[::\]:7712->80/tcp\n", stdout); // IPv4-only target: [::] is proxied
            Assert.Matches(@"\ncarp +\S+ +proxy +0\.0\.0\.0:7713->80/tcp, \[::\]:7713->80/tcp\n", stdout);
        }
        finally
        {
            lab.Cli("unpublish", "carn");
            lab.Cli("unpublish", "carm");
            lab.Cli("unpublish", "carp");
        }
    }

    [Fact]
    public void Status_PrintsTheSameVersionAsVersionAndTheServicesSettings()
    {
        Lab lab = L;
        (int code, string version, _) = Lab.RunCli(["--version"]);
        Assert.Equal(0, code);
        Assert.Matches(@"^\d+\.\d+\.\d+\+[0-9a-f]+\n$", version);
        (code, string status, _) = lab.Cli("status");
        Assert.Equal(0, code);
        Assert.StartsWith($"Version:      {version}", status, StringComparison.Ordinal);
        Assert.Contains("\nMode:         auto\n", status, StringComparison.Ordinal);
        Assert.Contains("\nTable:        ip portpublisher, ip6 portpublisher\n", status, StringComparison.Ordinal);
        Assert.Contains($"\nState dir:    {lab.StateDir}\n", status, StringComparison.Ordinal);
        Assert.Contains($"\nSocket:       {lab.Socket}\n", status, StringComparison.Ordinal);
        Assert.Matches(@"\nOpen files:   [1-9]\d*\n", status);
        Assert.Contains("\nSysctls:\n  net.ipv4.ip_forward = ", status, StringComparison.Ordinal);
    }

    /// <summary>curl over the control socket: the body and the status code.</summary>
    private string Curl(params string[] args)
    {
        (int code, string stdout, string stderr) = Run("curl", ["-s", "--unix-socket", L.Socket, "-w", " %{http_code}", .. args]);
        Assert.True(code == 0, stderr);
        return Regex.Replace(stdout, @"\s+(\d{3})$", " $1");
    }
}
