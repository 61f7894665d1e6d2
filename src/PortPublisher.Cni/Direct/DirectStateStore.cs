using System.Text.Json;
using PortPublisher.Cni.Spec;

namespace PortPublisher.Cni.Direct;

/// <summary>
/// Reads and replaces <c>STATE_DIR/state.json</c> (caller holds the <see cref="StateLock"/>). Written atomically: a
/// 0600 temporary file, fsync'd, renamed over the old one, the directory fsync'd; a crash leaves the old or the new
/// state. The default directory is under /run, because the tables it describes do not outlive a reboot either.
/// </summary>
internal sealed class DirectStateStore(string stateDir)
{
    public string PathName { get; } = Path.Combine(stateDir, "state.json");

    /// <exception cref="CniException">103 when the file cannot be read or is not a state file.</exception>
    public DirectStateFile Load()
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(PathName);
        }
        catch (FileNotFoundException)
        {
            return DirectStateFile.Empty;
        }
        catch (DirectoryNotFoundException)
        {
            return DirectStateFile.Empty;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CniException(CniErrorCode.ErrState, $"cannot read {PathName}: {e.Message}");
        }

        try
        {
            DirectStateFile? state = JsonSerializer.Deserialize(bytes, DirectJsonContext.Default.DirectStateFile);
            if (state is null || state.Version != DirectStateFile.CurrentVersion || state.Attachments is null)
            {
                throw new CniException(CniErrorCode.ErrState, $"{PathName} is not a version {DirectStateFile.CurrentVersion} state file of portpublisher-cni; move it away to start afresh (the tables are rebuilt from the next ADD)");
            }

            return state with { Localnet = state.Localnet ?? [] };
        }
        catch (JsonException e)
        {
            throw new CniException(CniErrorCode.ErrState, $"{PathName} is corrupt ({e.Message}); move it away to start afresh (the tables are rebuilt from the next ADD)");
        }
    }

    /// <summary>Writes the state; an empty one removes the file.</summary>
    /// <exception cref="CniException">103 when the directory is full, read-only or gone; the old file is untouched.</exception>
    public void Save(DirectStateFile state)
    {
        ArgumentNullException.ThrowIfNull(state);
        try
        {
            if (state.Attachments.Count == 0 && state.Localnet.Count == 0)
            {
                File.Delete(PathName);
                return;
            }

            string temp = PathName + ".tmp";
            var create = new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                Share = FileShare.None,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            };
            try
            {
                using (var f = new FileStream(temp, create))
                {
                    JsonSerializer.Serialize(f, state, DirectJsonContext.Default.DirectStateFile);
                    f.Flush(flushToDisk: true);
                }

                File.Move(temp, PathName, overwrite: true);
            }
            catch
            {
                File.Delete(temp);
                throw;
            }

            FsyncDirectory(Path.GetDirectoryName(PathName)!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CniException(CniErrorCode.ErrState, $"cannot write {PathName} (is the state directory full or read-only?): {e.Message}");
        }
    }

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
