using System.Net;
using PortPublisher.Core.Api;
using PortPublisher.Service.Publications;
using Xunit;

namespace PortPublisher.Service.UnitTests;

public sealed class PublishValidatorTests
{
    [Fact]
    public void EveryBadFieldIsNamedInOneAnswer()
    {
        PublishException e = Assert.Throws<PublishException>(() => PublishValidator.Validate(new PublishRequest("-bad", "web\0", ["80", "99999", null!, "1/icmp"], TargetIp: "nope")));
        Assert.Equal(HttpStatusCode.BadRequest, e.Status);
        Assert.Equal("validate", e.Step);
        string[] lines = e.Message.Split('\n');
        Assert.Contains(lines, l => l.Contains("-bad", StringComparison.Ordinal));
        Assert.Contains("invalid netns: it contains a NUL character", lines);
        Assert.Contains("invalid -p \"99999\": invalid containerPort: 99999", lines);
        Assert.Contains("invalid -p: null", lines);
        Assert.Contains("invalid -p \"1/icmp\": invalid proto: icmp", lines);
        Assert.Contains("invalid target address \"nope\"", lines);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SpecsAreRequired(bool missing)
    {
        // A JSON body without "specs" deserializes to null; either way no empty publication is made.
        PublishException e = Assert.Throws<PublishException>(() => PublishValidator.Validate(new PublishRequest("web", "host", missing ? null! : [])));
        Assert.Equal("specs: at least one -p value is required", e.Message);
    }

    [Theory]
    [InlineData("\"NAT\"")]
    [InlineData("\" nat\"")]
    [InlineData("\"auto,nat\"")]
    [InlineData("1")]
    public void ModesAreExactlyTheirNames(string mode)
    {
        Assert.Throws<System.Text.Json.JsonException>(() => System.Text.Json.JsonSerializer.Deserialize(
            $$"""{"name":"web","netns":"web","specs":["80"],"mode":{{mode}}}""", ApiJsonContext.Default.PublishRequest));
        Assert.Equal(Core.Publications.PublishMode.Nat, System.Text.Json.JsonSerializer.Deserialize(
            """{"name":"web","netns":"web","specs":["80"],"mode":"nat"}""", ApiJsonContext.Default.PublishRequest)!.Mode);
    }

    [Fact]
    public void TargetAddressesAreOnePerFamily()
    {
        ValidatedPublish both = PublishValidator.Validate(new PublishRequest("web", "web", ["80"], TargetIps: ["10.0.0.2", "fd00::2"]));
        Assert.Equal([IPAddress.Parse("10.0.0.2"), IPAddress.Parse("fd00::2")], both.TargetIps);
        Assert.Equal([IPAddress.Parse("10.0.0.2"), IPAddress.Parse("fd00::2")], PublishValidator.Validate(new PublishRequest("web", "web", ["80"], TargetIp: "10.0.0.2", TargetIps: ["fd00::2"])).TargetIps);
        Assert.Empty(PublishValidator.Validate(new PublishRequest("web", "web", ["80"])).TargetIps);

        PublishException e = Assert.Throws<PublishException>(() => PublishValidator.Validate(new PublishRequest("web", "web", ["80"], TargetIp: "10.0.0.2", TargetIps: ["10.0.0.3", null!])));
        Assert.Equal(["invalid targetIps: null", "two target addresses of one family: 10.0.0.2 and 10.0.0.3 (at most one IPv4 and one IPv6 address)"], e.Message.Split('\n'));
        Assert.Equal("invalid target address \"x\"", Assert.Throws<PublishException>(() => PublishValidator.Validate(new PublishRequest("web", "web", ["80"], TargetIps: ["x"]))).Message);

        // The same address in both fields is one target; Go's parsing (no octal, no hex); no link-local; at most two.
        Assert.Equal([IPAddress.Parse("10.0.0.2")], PublishValidator.Validate(new PublishRequest("web", "web", ["80"], TargetIp: "10.0.0.2", TargetIps: ["10.0.0.2"])).TargetIps);
        Assert.Equal("invalid target address \"010.077.0.2\"", Assert.Throws<PublishException>(() => PublishValidator.Validate(new PublishRequest("web", "web", ["80"], TargetIps: ["010.077.0.2"]))).Message);
        Assert.Equal("invalid target address \"0xa4d0002\"", Assert.Throws<PublishException>(() => PublishValidator.Validate(new PublishRequest("web", "web", ["80"], TargetIp: "0xa4d0002"))).Message);
        Assert.StartsWith("invalid target address fe80::1: link-local", Assert.Throws<PublishException>(() => PublishValidator.Validate(new PublishRequest("web", "web", ["80"], TargetIps: ["10.0.0.2", "fe80::1"]))).Message, StringComparison.Ordinal);
        Assert.Equal("targetIps: 400000 addresses; at most two, one IPv4 and one IPv6", Assert.Throws<PublishException>(() => PublishValidator.Validate(new PublishRequest("web", "web", ["80"], TargetIps: [.. Enumerable.Repeat("1.1.1.1", 400_000)]))).Message);
    }

    [Fact]
    public void AThousandBadSpecsAreNamedTwentyAtATime()
    {
        string[] lines = Assert.Throws<PublishException>(() => PublishValidator.Validate(new PublishRequest("web", "web", [.. Enumerable.Range(0, 1000).Select(i => $"x{i}")]))).Message.Split('\n');
        Assert.Equal(21, lines.Length);
        Assert.Equal("invalid -p \"x0\": invalid containerPort: x0", lines[0]);
        Assert.Equal("… and 980 more", lines[^1]);
    }

    [Fact]
    public void ARelativeNamespacePathIsRefused()
    {
        PublishException e = Assert.Throws<PublishException>(() => PublishValidator.Validate(new PublishRequest("web", "../netns/x", ["80"])));
        Assert.Contains("a path must be absolute", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AGoodRequestKeepsItsSpecsAsTyped()
    {
        ValidatedPublish v = PublishValidator.Validate(new PublishRequest("/web", "web", ["8080:80", "53/udp"]));
        Assert.Equal("web", v.Name);
        Assert.Equal(["8080:80", "53/udp"], v.Specs);
        Assert.Equal(2, v.Mappings.Count);
        Assert.Null(v.Mode);
    }
}
