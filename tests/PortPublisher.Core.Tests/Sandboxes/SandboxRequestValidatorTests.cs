using PortPublisher.Core.Sandboxes;
using Xunit;

namespace PortPublisher.Core.Tests.Sandboxes;

public class SandboxRequestValidatorTests
{
    [Fact]
    public void AGoodRequest_IsParsed()
    {
        ValidatedSandbox v = SandboxRequestValidator.Validate(new SandboxCreateRequest("t1", null, "du", ["8.8.8.8"], ["example.com"], ["ndots:2"], ["www.du.com:2.2.2.2"], "172.17.0.9", ["8080:80"]), out List<string> errors)!;
        Assert.Empty(errors);
        Assert.Equal((NetworkModeKind.Bridge, "du", "2.2.2.2", 1), (v.Network.Kind, v.Hostname, v.AddHosts[0].Ip, v.Mappings.Count));
    }

    [Theory]
    [InlineData("a/b", "Invalid netns name \"a/b\"")]
    [InlineData("..", "Invalid netns name \"..\"")]
    [InlineData(".", "Invalid netns name \".\"")]
    [InlineData("", "Invalid netns name \"\": a sandbox name is required")]
    public void NamesFollowIpNetns(string name, string error)
    {
        Assert.Null(SandboxRequestValidator.Validate(new SandboxCreateRequest(name), out List<string> errors));
        Assert.Equal([error], errors);
    }

    [Fact]
    public void EveryBadPart_IsNamed()
    {
        Assert.Null(SandboxRequestValidator.Validate(new SandboxCreateRequest("t1", "weird", "bad_host", ["8.8.8"], null, null, ["nohost"], "x", ["99999"]), out List<string> errors));
        Assert.Equal(
        [
            "invalid --network \"weird\": use bridge, none, host or container:NAME",
            "invalid --hostname \"bad_host\": use letters, digits, '-' and '.', at most 64 characters, labels of at most 63",
            "invalid argument \"8.8.8\" for \"--dns\" flag: IP address is not correctly formatted: 8.8.8",
            "invalid argument \"nohost\" for \"--add-host\" flag: bad format for add-host: \"nohost\"",
            "invalid --ip \"x\": not an IPv4 address",
            "invalid -p \"99999\": invalid containerPort: 99999",
        ], errors);
    }

    [Fact]
    public void ContainerMode_RefusesWhatDockerRefuses()
    {
        Assert.Null(SandboxRequestValidator.Validate(new SandboxCreateRequest("a2", "container:a1", "h", ["1.1.1.1"], null, null, ["x:1.2.3.4"], null, ["80"]), out List<string> errors));
        Assert.Equal(
        [
            SandboxRequestValidator.HostnameWithNetworkMode,
            SandboxRequestValidator.DnsWithNetworkMode,
            SandboxRequestValidator.ExtraHostsWithNetworkMode,
            "conflicting options: port publishing and the container type network mode",
        ], errors);
        Assert.Equal("a1", SandboxRequestValidator.Validate(new SandboxCreateRequest("a2", "container:a1"), out _)!.Network.Other);
    }

    [Fact]
    public void PortsNeedANameDockerAccepts()
    {
        Assert.Null(SandboxRequestValidator.Validate(new SandboxCreateRequest("x", Specs: ["80"]), out List<string> errors));
        Assert.StartsWith("sandbox \"x\" cannot publish ports: Invalid publication name (x)", errors.Single(), StringComparison.Ordinal);
        Assert.NotNull(SandboxRequestValidator.Validate(new SandboxCreateRequest("x"), out _));
    }

    [Fact]
    public void Dns_IsTrimmedAndWrittenCanonically_AsDockersValidateIPAddress()
    {
        ValidatedSandbox v = SandboxRequestValidator.Validate(new SandboxCreateRequest("t1", Dns: [" 1.1.1.1", "2001:DB8::0:1 "]), out _)!;
        Assert.Equal(["1.1.1.1", "2001:db8::1"], v.Dns);
    }

    [Theory]
    [InlineData("a b:1.2.3.4", "invalid host name \"a b\"")]
    [InlineData("evil\n1.2.3.4 bank.example:5.6.7.8", "invalid host name \"evil\\n1.2.3.4 bank.example\"")]
    [InlineData("tab\there:1.2.3.4", "invalid host name")]
    [InlineData("x#y:1.2.3.4", "invalid host name \"x#y\"")]
    public void AddHostNames_CannotAddLinesOrNamesToEtcHosts(string value, string error)
    {
        Assert.Null(SandboxRequestValidator.Validate(new SandboxCreateRequest("t1", AddHosts: [value]), out List<string> errors));
        Assert.Contains(error, errors.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void HostGateway_NeedsTheBridge()
    {
        Assert.Null(SandboxRequestValidator.Validate(new SandboxCreateRequest("t1", "none", AddHosts: ["gw:host-gateway"]), out List<string> errors));
        Assert.Equal(["invalid argument \"gw:host-gateway\" for \"--add-host\" flag: host-gateway is the bridge's address, and a --network none sandbox has no bridge"], errors);
        Assert.NotNull(SandboxRequestValidator.Validate(new SandboxCreateRequest("t1", AddHosts: ["gw:host-gateway"]), out _));
    }

    [Fact]
    public void DnsOptions_HaveNoControlCharacters()
    {
        Assert.Null(SandboxRequestValidator.Validate(new SandboxCreateRequest("t1", DnsOptions: ["ndots:1\u0000"]), out List<string> errors));
        Assert.Contains("--dns-option", errors.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void NullsInAJsonBodysLists_AreNamed_NotThrown()
    {
        Assert.Null(SandboxRequestValidator.Validate(new SandboxCreateRequest("t1", "none", null, [null!], [null!], [null!], [null!], null, [null!]), out List<string> errors));
        Assert.Equal(["invalid --dns: null", "invalid --dns-search: null", "invalid --dns-option: null", "invalid --add-host: null", "invalid -p: null"], errors);
    }

    [Fact]
    public void Names_HaveNoControlCharacters()
    {
        Assert.Null(SandboxRequestValidator.Validate(new SandboxCreateRequest("a\nb", "none"), out List<string> errors));
        Assert.Equal(["Invalid netns name \"a\\nb\": no control characters"], errors);
    }
}
