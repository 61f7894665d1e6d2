using System.Net;
using System.Text.Json;
using PortPublisher.Service.Publications;
using PortPublisher.Service.State;

namespace PortPublisher.Service.Sandboxes;

/// <summary>
/// STATE_DIR/sandboxes.json, written as state.json is: a temporary file fsync'd and renamed over the old one, so a
/// crash leaves the old or the new list, never half of one.
/// </summary>
internal sealed class SandboxStore(string directory)
{
    public const string FileName = "sandboxes.json";

    public string PathName { get; } = Path.Combine(directory, FileName);

    public SandboxStateFile Load()
    {
        if (!File.Exists(PathName))
        {
            return new SandboxStateFile(SandboxStateFile.CurrentVersion, []);
        }

        try
        {
            SandboxStateFile? state = JsonSerializer.Deserialize(File.ReadAllBytes(PathName), SandboxStateJsonContext.Default.SandboxStateFile);
            if (state?.Sandboxes is null || state.Version != SandboxStateFile.CurrentVersion)
            {
                throw new InvalidDataException($"version {state?.Version} is not {SandboxStateFile.CurrentVersion}, or no sandbox list");
            }

            return state;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new InvalidDataException($"cannot read sandbox state {PathName}: {e.Message}. Fix or move it away; the service will not start and forget sandboxes silently.", e);
        }
    }

    /// <exception cref="PublishException">507 when the directory cannot be written; the old file is intact.</exception>
    public void Save(SandboxStateFile state)
    {
        try
        {
            AtomicFile.Write(PathName, JsonSerializer.SerializeToUtf8Bytes(state, SandboxStateJsonContext.Default.SandboxStateFile));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PublishException(HttpStatusCode.InsufficientStorage, $"cannot write {PathName}: {e.Message}");
        }
    }
}
