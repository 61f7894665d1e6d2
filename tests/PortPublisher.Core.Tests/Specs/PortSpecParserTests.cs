using CsCheck;
using PortPublisher.Core.Specs;
using Xunit;

namespace PortPublisher.Core.Tests.Specs;

public class PortSpecParserTests
{
    // Cases of the corpus' kinds that the corpus does not hold, worked out from go-connections v0.5.0.
    [Theory]
    [InlineData("::ffff:127.0.0.1:8080:80", "80/tcp", "::ffff:127.0.0.1", "8080")]
    [InlineData("2001:DB8::1:8080:80", "80/tcp", "2001:DB8::1", "8080")]
    [InlineData("::1.2.3.4::80", "80/tcp", "::1.2.3.4", "")]
    [InlineData("[2001:db8::7]:0:53/UDP", "53/udp", "2001:db8::7", "0")]
    [InlineData("[10.1.2.3]::9/sctp", "9/sctp", "10.1.2.3", "")]
    [InlineData("0009:0080", "80/tcp", "", "9")]
    [InlineData("80/tcp/udp", "80/tcp", "", "")]
    [InlineData("1:2:3:4:5:6:7:8:1:2", "2/tcp", "1:2:3:4:5:6:7:8", "1")]
    [InlineData("ffff::ffff:ffff:1:1", "1/tcp", "ffff::ffff:ffff", "1")]
    [InlineData("target=80,published=8080,protocol=udp", "80/udp", "", "8080")]
    [InlineData("target=53,protocol=SCTP,mode=ingress,host_ip=10.0.0.1", "53/sctp", "", "")]
    [InlineData("published=8080,target=80,published=9090", "80/tcp", "", "9090")]
    [InlineData("published=7000-7002,target=80", "80/tcp", "", "7000-7002")]
    public void Parse_SingleMapping(string spec, string key, string hostIp, string hostPort)
    {
        PortMapping m = Assert.Single(PortSpecParser.Parse(spec));
        Assert.Equal((key, hostIp, hostPort), (m.Key, m.HostIp, m.HostPortText));
    }

    [Theory]
    [InlineData("1.2.3.4.5::80", "invalid IP address: 1.2.3.4.5")]
    [InlineData("127.1::80", "invalid IP address: 127.1")]
    [InlineData("1.2.3.256::80", "invalid IP address: 1.2.3.256")]
    [InlineData("1.2.3.04::80", "invalid IP address: 1.2.3.04")]
    [InlineData("fe80::1%eth0:80:80", "invalid IP address: fe80::1%eth0")]
    [InlineData("[fe80::1%eth0]:80:80", "invalid IP address: fe80::1%eth0")]
    [InlineData("1:2:3:4:5:6:7:8:9:1:2", "invalid IP address: 1:2:3:4:5:6:7:8:9")]
    [InlineData("1:2:3:4:5:6:7::8:1:2", "invalid IP address: 1:2:3:4:5:6:7::8")]
    [InlineData("12345::1:2", "invalid IP address: 12345:")]
    [InlineData("1::2::3:1:2", "invalid IP address: 1::2::3")]
    [InlineData("1:2:3:4:5:6:1.2.3.4:5:1:2", "invalid IP address: 1:2:3:4:5:6:1.2.3.4:5")]
    [InlineData("::1.2.3:1:2", "invalid IP address: ::1.2.3")]
    [InlineData("[::1]x:1:2", "invalid IP address [::1]x: address [::1]x:: missing port in address")]
    [InlineData("[a]]:1:2", "invalid IP address [a]]: address [a]]:: missing port in address")]
    [InlineData("[[a]:1:2", "invalid IP address [[a]: address [[a]:: unexpected '[' in address")]
    [InlineData("٨٠", "invalid containerPort: ٨٠")]
    [InlineData(" 80", "invalid containerPort:  80")]
    [InlineData("0x50", "invalid containerPort: 0x50")]
    [InlineData("80:90-80/udp", "invalid containerPort: 90-80")]
    [InlineData("80-:90", "invalid hostPort: 80-")]
    [InlineData("80/icmp", "invalid proto: icmp")]
    [InlineData("8000-8002:80-81", "invalid ranges specified for container and host Ports: 80-81 and 8000-8002")]
    [InlineData("target=80,,", "invalid publish opts format (should be name=value but got '')")]
    [InlineData("=80", "invalid publish opts format (should be name=value but got '=80')")]
    [InlineData("target=80,udp", "invalid publish opts format (should be name=value but got 'udp')")]
    [InlineData("published=8080", "no port specified: 8080:/tcp<empty>")]
    [InlineData("target=80,protocol=icmp", "invalid proto: icmp")]
    public void Parse_Rejects(string spec, string message)
    {
        PortSpecException e = Assert.Throws<PortSpecException>(() => PortSpecParser.Parse(spec));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void ParseAll_KeepsFlagOrderAndDuplicates()
    {
        // Verified against the real CLI (docker-semantics.md §1.2, step 3).
        IReadOnlyList<PortMapping> all = PortSpecParser.ParseAll(["80", "8080:80", "80:80", "80:80", "[::1]:9090:80", "8000-8001:80-81"]);
        Assert.Equal(
            ["80/tcp :", "80/tcp :8080", "80/tcp :80", "80/tcp :80", "80/tcp ::1:9090", "80/tcp :8000", "81/tcp :8001"],
            all.Select(m => $"{m.Key} {m.HostIp}:{m.HostPortText}"));
    }

    [Fact]
    public void ParseAll_StopsAtFirstError()
    {
        PortSpecException e = Assert.Throws<PortSpecException>(() => PortSpecParser.ParseAll(["80", "99999", "abc"]));
        Assert.Equal("99999", e.Spec);
        Assert.Equal("invalid containerPort: 99999", e.Message);
    }

    private static readonly Gen<string> s_noise = Gen.String[Gen.OneOf(Gen.Char["0123456789:/-[].=,%abcdefptuxs "], Gen.Char), 0, 40];

    [Fact]
    public void Parse_OnlyEverThrowsPortSpecException() =>
        s_noise.Sample(spec =>
        {
            try
            {
                IReadOnlyList<PortMapping> m = PortSpecParser.Parse(spec);
                Assert.NotEmpty(m);
            }
            catch (PortSpecException e)
            {
                Assert.False(string.IsNullOrEmpty(e.Message));
            }
        }, iter: 20_000);

    private static readonly Gen<(string Ip, int CStart, int CLen, int? HStart, int HLen, string Proto)> s_valid =
        Gen.Select(
            Gen.OneOf(Gen.Const(""), Gen.Const("0.0.0.0"), Gen.Const("127.0.0.1"), Gen.Const("::1"), Gen.Const("[::]"), Gen.Const("[2001:db8::1]"), Gen.Byte.Array[4].Select(b => string.Join('.', b))),
            Gen.Int[0, 65535],
            Gen.Int[0, 20],
            Gen.Int[0, 65535].Nullable(),
            Gen.Int[0, 20],
            Gen.OneOf(Gen.Const(""), Gen.Const("/tcp"), Gen.Const("/UDP"), Gen.Const("/sctp"), Gen.Const("/")));

    [Fact]
    public void Parse_MatchesModelForWellFormedSpecs() =>
        s_valid.Sample(t =>
        {
            int cEnd = Math.Min(65535, t.CStart + t.CLen);
            string container = cEnd == t.CStart ? $"{t.CStart}" : $"{t.CStart}-{cEnd}";
            string host = string.Empty;
            int hEnd = 0;
            if (t.HStart is int hs)
            {
                hEnd = Math.Min(65535, hs + t.HLen);
                host = hEnd == hs ? $"{hs}" : $"{hs}-{hEnd}";
            }

            string spec = t.Ip.Length > 0 ? $"{t.Ip}:{host}:{container}{t.Proto}" : host.Length > 0 ? $"{host}:{container}{t.Proto}" : $"{container}{t.Proto}";
            bool rangesFit = t.HStart is null || cEnd == t.CStart || cEnd - t.CStart == hEnd - t.HStart;
            if (!rangesFit)
            {
                Assert.StartsWith("invalid ranges specified", Assert.Throws<PortSpecException>(() => PortSpecParser.Parse(spec)).Message);
                return;
            }

            IReadOnlyList<PortMapping> m = PortSpecParser.Parse(spec);
            Assert.Equal(cEnd - t.CStart + 1, m.Count);
            string proto = t.Proto.Length <= 1 ? "tcp" : t.Proto[1..].ToLowerInvariant();
            for (int i = 0; i < m.Count; i++)
            {
                Assert.Equal($"{t.CStart + i}/{proto}", m[i].Key);
                Assert.Equal(t.Ip.Trim('[', ']'), m[i].HostIp);
                string expectedHost = t.HStart is not int h ? "" : cEnd == t.CStart ? host : $"{h + i}";
                Assert.Equal(expectedHost, m[i].HostPortText);
            }
        }, iter: 5_000);
}
