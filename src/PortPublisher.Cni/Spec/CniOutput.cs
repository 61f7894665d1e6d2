using System.Text;
using System.Text.Json;

namespace PortPublisher.Cni.Spec;

/// <summary>What goes to stdout: a result, VERSION's answer, or an error; each one JSON document and a newline.</summary>
internal static class CniOutput
{
    public static void Error(Stream stdout, string cniVersion, CniException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        Write(stdout, w =>
        {
            w.WriteString("cniVersion", cniVersion);
            w.WriteNumber("code", e.Code);
            w.WriteString("msg", e.Message);
            if (e.Details is { Length: > 0 } details)
            {
                w.WriteString("details", details);
            }
        });
    }

    public static void Version(Stream stdout, string cniVersion) => Write(stdout, w =>
    {
        w.WriteString("cniVersion", cniVersion);
        w.WriteStartArray("supportedVersions");
        foreach (string v in CniVersion.Supported)
        {
            w.WriteStringValue(v);
        }

        w.WriteEndArray();
    });

    /// <summary>The previous result exactly as it came: a chained plugin that changes nothing in it passes it on.</summary>
    public static void Raw(Stream stdout, string json)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        stdout.Write(Encoding.UTF8.GetBytes(json + "\n"));
        stdout.Flush();
    }

    private static void Write(Stream stdout, Action<Utf8JsonWriter> body)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        using (var w = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }

        stdout.Write("\n"u8);
        stdout.Flush();
    }
}
