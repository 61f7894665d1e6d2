using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text.Json;

namespace PortPublisher.Service.State;

/// <summary>
/// The saved publications: a snapshot (<c>state.json</c>, written atomically: temp file, fsync, rename, fsync of the
/// directory) plus a journal of the changes since (<c>state.journal</c>). A change appends one record — length, CRC-32,
/// compact JSON — and fsyncs it before it is acknowledged, so a publish costs the size of that publication, not of all
/// of them. When the journal outgrows the snapshot (and 1 MiB) it is folded into a new snapshot: amortised O(change).
/// A crash mid-append leaves a torn last record, which was never acknowledged and is cut off at the next start; any
/// other damage stops the start with a message. A state.json of an earlier version is simply the first snapshot.
/// Chosen over SQLite: no native library to ship in a self-contained or NativeAOT daemon, and a store this small
/// needs nothing a 100-line journal does not give.
/// </summary>
internal sealed class StateStore : Kernel.IStateStore
{
    public const string FileName = "state.json";
    public const string JournalName = "state.journal";

    // u32 length, u32 CRC-32 of the payload, u32 CRC-32 of those 8 bytes, all little-endian. The header's own CRC tells
    // a damaged length (stop) from a record whose write was cut short (its header is whole; cut it off).
    private const int HeaderBytes = 12;
    private const int MaxRecordBytes = 64 << 20;
    private const long MinCompactBytes = 1 << 20;

    private readonly Dictionary<string, StoredPublication> _current = new(StringComparer.Ordinal);
    private long _journalBytes;
    private long _snapshotBytes;
    private bool _loaded;

    public StateStore(string directory)
    {
        Directory = directory;
        PathName = Path.Combine(directory, FileName);
        JournalPath = Path.Combine(directory, JournalName);
    }

    public string Directory { get; }

    public string PathName { get; }

    public string JournalPath { get; }

    /// <summary>Bytes of a torn last record that the last <see cref="Load"/> cut off (a crash mid-append; never acknowledged).</summary>
    public int CutTailBytes { get; private set; }

    /// <summary>How many snapshots were written by compaction since start (for tests and benchmarks).</summary>
    public int Compactions { get; private set; }

    /// <summary>The saved state: the snapshot with the journal replayed; an empty one when there is neither.</summary>
    /// <exception cref="InvalidDataException">A file exists but cannot be read or understood; nothing is dropped silently.</exception>
    public StateFile Load()
    {
        _current.Clear();
        foreach (StoredPublication p in LoadSnapshot())
        {
            _current[p.Name] = p;
        }

        ReplayJournal();
        _loaded = true;
        return Snapshot();
    }

    public void Commit(IReadOnlyCollection<StoredPublication> put, IReadOnlyCollection<string> remove)
    {
        ArgumentNullException.ThrowIfNull(put);
        ArgumentNullException.ThrowIfNull(remove);
        if (!_loaded)
        {
            Load();
        }

        if (put.Count == 0 && remove.Count == 0)
        {
            return;
        }

        byte[] record = Encode(new StateChange([.. put], [.. remove]));
        System.IO.Directory.CreateDirectory(Directory);
        bool created = !File.Exists(JournalPath);
        var append = new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.ReadWrite,

            // Readers (an operator, a test) may look; one writer is guaranteed by the state directory's lock.
            Share = FileShare.Read,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,

            // Unbuffered: a failed write must not linger in a buffer that a later SetLength or Dispose flushes.
            BufferSize = 0,
        };
        using (var f = new FileStream(JournalPath, append))
        {
            long before = f.Length;
            try
            {
                f.Seek(0, SeekOrigin.End);
                f.Write(record);
                f.Flush(flushToDisk: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A full disk can leave part of the record: cut it off, so the journal is exactly as it was.
                TryTruncate(f, before);
                throw;
            }

            _journalBytes = f.Length;
        }

        if (created)
        {
            AtomicFile.FsyncDirectory(Directory);
        }

        Apply(put, remove);
        if (_journalBytes > Math.Max(MinCompactBytes, _snapshotBytes))
        {
            TryCompact();
        }
    }

    public void Save(StateFile state)
    {
        ArgumentNullException.ThrowIfNull(state);
        WriteSnapshot(state);
        AtomicFile.TryDelete(JournalPath);
        AtomicFile.FsyncDirectory(Directory);
        _journalBytes = 0;
        _current.Clear();
        foreach (StoredPublication p in state.Publications)
        {
            _current[p.Name] = p;
        }

        _loaded = true;
    }

    /// <summary>The state as it is now (what a restart would load).</summary>
    public StateFile Snapshot() => new(StateFile.CurrentVersion, [.. _current.Values.OrderBy(p => p.Name, StringComparer.Ordinal)]);

    internal static byte[] Encode(StateChange change)
    {
        byte[] payload = JsonSerializer.SerializeToUtf8Bytes(change, StateJournalJsonContext.Default.StateChange);
        var record = new byte[HeaderBytes + payload.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(4), Crc32.HashToUInt32(payload));
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(8), Crc32.HashToUInt32(record.AsSpan(0, 8)));
        payload.CopyTo(record, HeaderBytes);
        return record;
    }

    private void Apply(IEnumerable<StoredPublication> put, IEnumerable<string> remove)
    {
        foreach (StoredPublication p in put)
        {
            _current[p.Name] = p;
        }

        foreach (string name in remove)
        {
            _current.Remove(name);
        }
    }

    private List<StoredPublication> LoadSnapshot()
    {
        if (!File.Exists(PathName))
        {
            _snapshotBytes = 0;
            return [];
        }

        try
        {
            byte[] bytes = File.ReadAllBytes(PathName);
            _snapshotBytes = bytes.Length;
            StateFile? state = JsonSerializer.Deserialize(bytes, StateJsonContext.Default.StateFile);
            if (state is null || state.Publications is null)
            {
                throw new InvalidDataException("the file holds no state object");
            }

            if (!StateFile.CanRead(state.Version))
            {
                throw new InvalidDataException($"state version {state.Version} is not {StateFile.CurrentVersion}");
            }

            return [.. state.Publications];
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new InvalidDataException($"cannot read state file {PathName}: {e.Message}. Fix or move it away; the service will not start and drop publications silently.", e);
        }
    }

    private void ReplayJournal()
    {
        _journalBytes = 0;
        if (!File.Exists(JournalPath))
        {
            return;
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(JournalPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Corrupt($"cannot read it: {e.Message}");
        }

        int offset = 0;
        while (offset < bytes.Length)
        {
            ReadOnlySpan<byte> rest = bytes.AsSpan(offset);
            if (rest.Length < HeaderBytes || !rest.ContainsAnyExcept((byte)0))
            {
                break; // torn: the crash came before the whole header was written (or the file was extended with zeros)
            }

            if (Crc32.HashToUInt32(rest[..8]) != BinaryPrimitives.ReadUInt32LittleEndian(rest[8..]))
            {
                throw Corrupt($"record at byte {offset} has a damaged header");
            }

            uint length = BinaryPrimitives.ReadUInt32LittleEndian(rest);
            if (length > MaxRecordBytes)
            {
                throw Corrupt($"record at byte {offset} claims {length} bytes");
            }

            if (length > rest.Length - HeaderBytes)
            {
                break; // torn: a crash during the append of the last record, which was never acknowledged
            }

            ReadOnlySpan<byte> payload = rest.Slice(HeaderBytes, (int)length);
            bool last = HeaderBytes + (int)length == rest.Length;
            if (Crc32.HashToUInt32(payload) != BinaryPrimitives.ReadUInt32LittleEndian(rest[4..]))
            {
                if (last)
                {
                    break; // torn in its payload: same as above
                }

                throw Corrupt($"record at byte {offset} fails its checksum, and records follow it");
            }

            StateChange? change;
            try
            {
                change = JsonSerializer.Deserialize(payload, StateJournalJsonContext.Default.StateChange);
            }
            catch (JsonException e)
            {
                throw Corrupt($"record at byte {offset}: {e.Message}");
            }

            if (change?.Put is null || change.Remove is null)
            {
                throw Corrupt($"record at byte {offset} holds no change");
            }

            Apply(change.Put, change.Remove);
            offset += HeaderBytes + (int)length;
        }

        CutTailBytes = bytes.Length - offset;
        if (offset < bytes.Length)
        {
            // Cut the torn tail now, so the next append starts on a record boundary. A read-only directory keeps it:
            // every change is refused there anyway, and the next start cuts it.
            try
            {
                using var f = new FileStream(JournalPath, FileMode.Open, FileAccess.Write, FileShare.None);
                f.SetLength(offset);
                f.Flush(flushToDisk: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // See above.
            }
        }

        _journalBytes = offset;
    }

    private InvalidDataException Corrupt(string why) =>
        new($"cannot read state journal {JournalPath}: {why}. Fix or move it away; the service will not start and drop publications silently.");

    private void TryCompact()
    {
        try
        {
            Save(Snapshot());
            Compactions++;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The change is in the journal already; the next change tries again.
        }
    }

    private void WriteSnapshot(StateFile state)
    {
        byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(state, StateJsonContext.Default.StateFile);
        AtomicFile.Write(PathName, bytes);
        _snapshotBytes = bytes.Length;
    }

    private static void TryTruncate(FileStream f, long length)
    {
        try
        {
            f.SetLength(length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Nothing more can be done; the torn record is cut at the next start, and was never acknowledged.
        }
    }
}
