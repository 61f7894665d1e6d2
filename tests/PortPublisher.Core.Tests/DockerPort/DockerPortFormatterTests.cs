using System.Net;
using PortPublisher.Core.Allocation;
using PortPublisher.Core.DockerPort;
using PortPublisher.Core.Specs;
using Xunit;

namespace PortPublisher.Core.Tests.DockerPort;

public class DockerPortFormatterTests
{
    private static readonly HostBinding[] s_web =
    [
        new(IPAddress.Any, 49155, Protocol.Tcp, 80),
        new(IPAddress.IPv6Any, 49155, Protocol.Tcp, 80),
        new(IPAddress.Loopback, 5353, Protocol.Udp, 53),
    ];

    [Theory]
    [InlineData("9/tcp", "10/tcp", true)]
    [InlineData("10/tcp", "100/tcp", true)]
    [InlineData("80/sctp", "80/tcp", true)]
    [InlineData("80/tcp -> 0.0.0.0:1", "80/tcp -> :1", true)]
    [InlineData("80/tcp -> :1", "80/tcp -> [::]:1", true)]
    [InlineData("10.0.0.1", "192.168.1.10", true)]
    [InlineData("a01", "a1", false)]
    [InlineData("a1", "a01", true)]
    [InlineData("abc", "abcd", true)]
    [InlineData("x", "x", false)]
    public void NaturalLess(string a, string b, bool less) =>
        Assert.Equal(less, NaturalOrder.Less(System.Text.Encoding.UTF8.GetBytes(a), System.Text.Encoding.UTF8.GetBytes(b)));

    [Fact]
    public void Legacy_PrintsTheReferenceTextForm()
    {
        var map = DockerPortFormatter.ToPortMap(s_web);
        Assert.Equal("80/tcp -> 0.0.0.0:49155\n80/tcp -> :::49155\n53/udp -> 127.0.0.1:5353\n", DockerPortFormatter.Format("web", map, null, DockerPortStyle.Legacy).Stdout);
        Assert.Equal("0.0.0.0:49155\n:::49155\n", DockerPortFormatter.Format("web", map, "80", DockerPortStyle.Legacy).Stdout);
        Assert.Equal(new CommandOutput("", "Error: No public port '53/tcp' published for web\n", 1), DockerPortFormatter.Format("web", map, "53", DockerPortStyle.Legacy));
    }

    [Fact]
    public void Current_QueryErrorsEchoTheArgument()
    {
        var map = DockerPortFormatter.ToPortMap(s_web);
        Assert.Equal("Error: invalid port (a\"b): strconv.ParseUint: parsing \"a\\\"b\": invalid syntax\n", DockerPortFormatter.Format("web", map, "a\"b").Stderr);
        Assert.Equal("Error: invalid port (99999x): strconv.ParseUint: parsing \"99999x\": value out of range\n", DockerPortFormatter.Format("web", map, "99999x").Stderr);
        Assert.Equal("127.0.0.1:5353\n", DockerPortFormatter.Format("web", map, "53/udp").Stdout);
    }

    [Theory]
    [InlineData("::", "::")]
    [InlineData("::ffff:10.0.0.1", "10.0.0.1")]
    [InlineData("::1.2.3.4", "::102:304")]
    [InlineData("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1")]
    [InlineData("2001:0:0:1:0:0:0:1", "2001:0:0:1::1")]
    [InlineData("fe80::1", "fe80::1")]
    [InlineData("1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0")]
    public void HostIpIsGosCanonicalForm(string ip, string expected) =>
        Assert.Equal(expected, DockerPortFormatter.ToPortMap([new HostBinding(IPAddress.Parse(ip), 1, Protocol.Tcp, 1)])[0].Value![0].HostIp);
}
