using System.Text.Json;

namespace PortPublisher.Service.State;

/// <summary>
/// The state file under the state directory, written atomically: a temporary file is written and fsync'd, renamed
/// over the old one, and the directory fsync'd, so a crash leaves either the old or the new state, never half of one.
/// </summary>
internal sealed class StateStore : Kernel.IStateStore
{
    public const string FileName = "state.json";

    public StateStore(string directory)
    {
        Directory = directory;
        PathName = Path.Combine(directory, FileName);
    }

    public string Directory { get; }

    public string PathName { get; }

    /// <summary>The saved state; an empty one when there is no file yet.</summary>
    /// <exception cref="InvalidDataException">The file exists but cannot be read or understood; nothing is dropped silently.</exception>
    public StateFile Load()
    {
        if (!File.Exists(PathName))
        {
            return new StateFile(StateFile.CurrentVersion, []);
        }

        try
        {
            byte[] bytes = File.ReadAllBytes(PathName);
            StateFile? state = JsonSerializer.Deserialize(bytes, StateJsonContext.Default.StateFile);
            if (state is null || state.Publications is null)
            {
                throw new InvalidDataException("the file holds no state object");
            }

            if (state.Version != StateFile.CurrentVersion)
            {
                throw new InvalidDataException($"state version {state.Version} is not {StateFile.CurrentVersion}");
            }

            return state;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new InvalidDataException($"cannot read state file {PathName}: {e.Message}. Fix or move it away; the service will not start and drop publications silently.", e);
        }
    }

    public void Save(StateFile state)
    {
        System.IO.Directory.CreateDirectory(Directory);
        string temp = PathName + ".tmp";
        byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(state, StateJsonContext.Default.StateFile);
        try
        {
            // 0600: the state names every namespace and port; only the service reads it.
            var create = new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                Share = FileShare.None,
                Options = FileOptions.WriteThrough,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            };
            using (FileStream f = new(temp, create))
            {
                f.Write(bytes);
                f.Flush(flushToDisk: true);
            }

            File.Move(temp, PathName, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A full disk leaves a short or empty temp file: the old state stays whole, and so does the directory.
            TryDelete(temp);
            throw;
        }

        FsyncDirectory(Directory);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Read-only or gone: there is nothing to clean up, or nothing we can do.
        }
    }

    /// <summary>fsync of the directory makes the rename itself durable.</summary>
    private static unsafe void FsyncDirectory(string directory)
    {
        byte[] path = System.Text.Encoding.UTF8.GetBytes(directory + "\0");
        fixed (byte* p = path)
        {
            int fd = Tmds.Linux.LibC.open(p, Tmds.Linux.LibC.O_RDONLY | Tmds.Linux.LibC.O_DIRECTORY | Tmds.Linux.LibC.O_CLOEXEC, 0);
            if (fd >= 0)
            {
                _ = Tmds.Linux.LibC.fsync(fd);
                _ = Tmds.Linux.LibC.close(fd);
            }
        }
    }
}
