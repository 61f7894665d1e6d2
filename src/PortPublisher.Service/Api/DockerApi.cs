using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using PortPublisher.Core.Api;
using PortPublisher.Service.Publications;

namespace PortPublisher.Service.Api;

/// <summary>
/// Just enough of the Docker Engine API for the real docker CLI's <c>docker port</c> (docker-semantics.md §3.2–3.3):
/// <c>HEAD|GET /_ping</c> with Api-Version, and <c>GET /v{x.y}/containers/{name}/json</c> whose
/// <c>NetworkSettings.Ports</c> the CLI formats. Names, full ids and id prefixes resolve.
/// </summary>
internal static class DockerApi
{
    public const string ApiVersion = "1.50";

    public static void Map(IEndpointRouteBuilder app, Func<HttpContext, bool> onControlSocket)
    {
        RouteGroupBuilder root = app.MapGroup(string.Empty).AddEndpointFilter(async (ctx, next) =>
            onControlSocket(ctx.HttpContext) ? await next(ctx) : Results.NotFound());

        root.MapMethods("/_ping", ["GET", "HEAD"], (HttpContext http) =>
        {
            IHeaderDictionary h = http.Response.Headers;
            h["Api-Version"] = ApiVersion;
            h["Ostype"] = "linux";
            h["Docker-Experimental"] = "false";
            h["Cache-Control"] = "no-cache, no-store, must-revalidate";
            h["Pragma"] = "no-cache";
            h["Server"] = "portpublisherd (linux)";
            return HttpMethods.IsHead(http.Request.Method) ? Results.Ok() : Results.Text("OK", "text/plain; charset=utf-8");
        });

        root.MapGet("/v{version}/containers/{name}/json", (string name, PublicationManager manager) => Inspect(name, manager));
        root.MapGet("/containers/{name}/json", (string name, PublicationManager manager) => Inspect(name, manager));
    }

    /// <summary>A stable 64-hex id per publication name, so id prefixes work as with Docker.</summary>
    public static string IdOf(string name) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)));

    private static IResult Inspect(string name, PublicationManager manager)
    {
        string wanted = name.TrimStart('/');
        PublicationDto? p = manager.Find(wanted)
            ?? (wanted.Length > 0 ? manager.Snapshot.FirstOrDefault(x => IdOf(x.Name).StartsWith(wanted, StringComparison.Ordinal)) : null);
        if (p is null)
        {
            return ControlApi.Error(System.Net.HttpStatusCode.NotFound, $"No such container: {name}");
        }

        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("Id", IdOf(p.Name));
            w.WriteString("Name", "/" + p.Name);
            w.WriteStartObject("NetworkSettings");
            w.WriteStartObject("Ports");
            foreach (KeyValuePair<string, IReadOnlyList<Core.DockerPort.PortBindingView>?> kv in p.ToPortMap())
            {
                w.WriteStartArray(kv.Key);
                foreach (Core.DockerPort.PortBindingView b in kv.Value ?? [])
                {
                    w.WriteStartObject();
                    w.WriteString("HostIp", b.HostIp);
                    w.WriteString("HostPort", b.HostPort);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return Results.Bytes(ms.ToArray(), "application/json");
    }
}
