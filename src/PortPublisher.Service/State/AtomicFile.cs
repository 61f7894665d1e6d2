namespace PortPublisher.Service.State;

/// <summary>
/// Replaces a file so that a crash leaves the old or the new content, never half of either: a 0600 temporary file,
/// written and fsync'd, renamed over the old one, then the directory fsync'd so the rename itself is durable. A failed
/// write (a full disk) removes the temporary file and rethrows; the old file is untouched.
/// </summary>
internal static class AtomicFile
{
    /// <exception cref="IOException">The directory is full, read-only or gone.</exception>
    /// <exception cref="UnauthorizedAccessException">The directory cannot be written.</exception>
    public static void Write(string path, ReadOnlySpan<byte> bytes)
    {
        string directory = Path.GetDirectoryName(path) ?? ".";
        Directory.CreateDirectory(directory);
        string temp = path + ".tmp";
        try
        {
            // 0600: the service's files name namespaces and ports; only it reads them.
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

            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw;
        }

        FsyncDirectory(directory);
    }

    /// <summary>Deletes a file if it can; a read-only or vanished one is left as it is.</summary>
    public static void TryDelete(string path)
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

    /// <summary>fsync of the directory makes a rename or a new file itself durable.</summary>
    public static unsafe void FsyncDirectory(string directory)
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
