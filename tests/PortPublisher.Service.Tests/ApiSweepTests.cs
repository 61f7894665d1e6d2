using System.Net;
using System.Net.Sockets;
using System.Text;
using CsCheck;
using Xunit;

namespace PortPublisher.Service.Tests;

/// <summary>
/// A 500 is a bug: 10,000 generated request bodies (valid, nearly valid and hostile JSON, odd content types) go to the
/// real daemon's API; none may get a 500, and the daemon must still answer afterwards. Bodies that would really publish
/// are dry runs, so the sweep changes nothing.
/// </summary>
[Trait("Category", "Netns")]
[Collection(Exclusive.Name)]
public sealed class ApiSweepTests
{
    private static readonly Gen<string> s_text = Gen.OneOf(
        Gen.Const("web"), Gen.Const(""), Gen.Const("/web"), Gen.Const("web\n"), Gen.Const("a"), Gen.Const("host"),
        Gen.Const("container:web"), Gen.Const("/dev/null"), Gen.Const("/proc/self/ns/net"), Gen.Const("/tmp"), Gen.Const("../x"),
        Gen.Const("\u0000"), Gen.Const("\\u0000"), Gen.Const(new string('n', 300)), Gen.String[Gen.Char["abc/:.-_0123456789[]\\\""], 0, 20]);

    private static readonly Gen<string> s_spec = Gen.OneOf(
        Gen.Const("80"), Gen.Const("8080:80"), Gen.Const("127.0.0.1::80"), Gen.Const("[::]:9090:90"), Gen.Const("53/udp"),
        Gen.Const("1-65535:1-65535"), Gen.Const("99999"), Gen.Const("1/icmp"), Gen.Const("published=1,target=2"), Gen.Const(""),
        Gen.String[Gen.Char["0123456789:/-[].=,abcdeptu "], 0, 24]);

    private static Gen<string> Json(string container) => Gen.OneOf(
        // A well-formed request with random fields (JSON-escaped), always a dry run.
        Gen.Select(s_text, Gen.OneOf(s_text, Gen.Const(container)), s_spec.Array[0, 4], Gen.OneOf(Gen.Const("null"), Gen.Const("\"nat\""), Gen.Const("\"NAT\""), Gen.Const("3"), Gen.Const("\"auto,nat\""), Gen.Const("[]")), Gen.OneOf(Gen.Const("null"), Gen.Const("\"10.99.0.2\""), Gen.Const("\"nope\""), Gen.Const("7")))
            .Select((name, netns, specs, mode, ip) => $$"""{"name":{{Quote(name)}},"netns":{{Quote(netns)}},"specs":[{{string.Join(',', specs.Select(Quote))}}],"mode":{{mode}},"targetIp":{{ip}},"dryRun":true}"""),
        // Wrong shapes and types.
        Gen.OneOf(
            Gen.Const("{}"), Gen.Const("null"), Gen.Const("[]"), Gen.Const("\"x\""), Gen.Const("{\"specs\":null}"), Gen.Const("{\"specs\":[null],\"name\":\"web\",\"netns\":\"web\",\"dryRun\":true}"),
            Gen.Const("{\"name\":1,\"netns\":true,\"specs\":{}}"), Gen.Const("{\"name\":\"web\",\"netns\":\"web\",\"specs\":[\"80\"],\"dryRun\":\"yes\"}"),
            Gen.Const("{\"name\":\"web\",\"netns\":\"web\",\"specs\":[\"80\"],\"dryRun\":true,\"extra\":[1,2,{\"a\":null}]}"),
            Gen.Const(new string('[', 5000)), Gen.Const("{\"name\":\"" + new string('x', 200_000) + "\"}")),
        // Arbitrary bytes.
        Gen.String[Gen.Char, 0, 200]);

    private static string Quote(string s) => System.Text.Json.JsonSerializer.Serialize(s);

    [Fact]
    public async Task TenThousandGeneratedBodies_NoneGetsA500AndTheDaemonStaysUp()
    {
        await using Lab lab = await Lab.StartAsync();
        using var http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await s.ConnectAsync(new UnixDomainSocketEndPoint(lab.Socket), ct);
                return new NetworkStream(s, ownsSocket: true);
            },
        })
        {
            BaseAddress = new Uri("http://portpublisher/"),
            Timeout = TimeSpan.FromSeconds(15),
        };

        Gen<(string Body, string? Type)> request = Gen.Select(Json(lab.Container), Gen.OneOf(Gen.Const<string?>("application/json"), Gen.Const<string?>("application/json; charset=utf-8"), Gen.Const<string?>("text/plain"), Gen.Const((string?)null)));
        var statuses = new Dictionary<HttpStatusCode, int>();
        int count = 0;
        await request.SampleAsync(
            async r =>
            {
                using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(r.Body));
                if (r.Type is not null)
                {
                    content.Headers.TryAddWithoutValidation("Content-Type", r.Type);
                }

                using HttpResponseMessage response = await http.PostAsync("v1/publications", content, TestContext.Current.CancellationToken);
                lock (statuses)
                {
                    statuses[response.StatusCode] = statuses.GetValueOrDefault(response.StatusCode) + 1;
                    count++;
                }

                return (int)response.StatusCode < 500 || response.StatusCode == HttpStatusCode.InsufficientStorage;
            },
            iter: 10_000,
            threads: 1);

        Assert.Equal(10_000, count);
        Assert.Equal(0, lab.Cli(TimeSpan.FromSeconds(15), "ls").Code);
        Assert.Equal("NAME   NETNS   CARRIER   PORTS", lab.Cli(TimeSpan.FromSeconds(15), "ls").Stdout.Trim()); // dry runs only: nothing was published
        Assert.True(statuses.Keys.Count >= 3, string.Join(", ", statuses.Select(kv => $"{(int)kv.Key}: {kv.Value}")));
    }
}
