using PortPublisher.Service.State;
using Xunit;

namespace PortPublisher.Service.UnitTests;

/// <summary>The journaled state store: changes cost their own size, a torn last record is cut, other damage stops the start.</summary>
public sealed class StateStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pp-state-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ChangesSurviveAReloadAndAppendOnlyTheirOwnRecord()
    {
        var store = new StateStore(_dir);
        store.Load();
        store.Commit([Pub("a"), Pub("b")], []);
        long afterTwo = new FileInfo(store.JournalPath).Length;
        store.Commit([Pub("c")], ["a"]);
        Assert.Equal(afterTwo + StateStore.Encode(new StateChange([Pub("c")], ["a"])).Length, new FileInfo(store.JournalPath).Length);
        Assert.False(File.Exists(store.PathName)); // no snapshot rewritten for a change

        Assert.Equal(["b", "c"], new StateStore(_dir).Load().Publications.Select(p => p.Name));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.JournalPath));
    }

    [Fact]
    public void AnEarlierVersionsStateJsonIsTheFirstSnapshot()
    {
        new StateStore(_dir).Save(new StateFile(StateFile.CurrentVersion, [Pub("old")]));
        var store = new StateStore(_dir);
        Assert.Equal(["old"], store.Load().Publications.Select(p => p.Name));
        store.Commit([Pub("new")], []);
        Assert.Equal(["new", "old"], new StateStore(_dir).Load().Publications.Select(p => p.Name));
    }

    [Fact]
    public void AVersion1StateJsonIsReadAsItIs()
    {
        // Written by a service before issue 13: no runs. Read, and saved again as version 2 at the next compaction.
        File.WriteAllText(Path.Combine(_dir, StateStore.FileName), """
            {"version": 1, "publications": [{"name": "old", "netns": "web", "netnsPath": "/run/netns/web", "netnsDevice": 1, "netnsInode": 2,
              "specs": ["80"], "bindings": [{"hostIp": "0.0.0.0", "hostPort": 32768, "protocol": "tcp", "containerPort": 80, "carrier": "nat", "targetIp": "10.88.0.2"}]}]}
            """);
        StoredPublication p = Assert.Single(new StateStore(_dir).Load().Publications);
        Assert.Equal(new StoredBinding("0.0.0.0", 32768, "tcp", 80, "nat", "10.88.0.2"), Assert.Single(p.Bindings));
    }

    [Fact]
    public void AVersionItDoesNotKnowStopsTheStart()
    {
        File.WriteAllText(Path.Combine(_dir, StateStore.FileName), """{"version": 3, "publications": []}""");
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => new StateStore(_dir).Load());
        Assert.Contains("state version 3 is not 2", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]   // inside the header
    [InlineData(13)]  // inside the payload: the header is whole, the bytes are not
    [InlineData(-1)]  // the full length, one payload byte wrong (a crash between the blocks of one write)
    public void ATornLastRecordWasNeverAcknowledgedAndIsCutOff(int keep)
    {
        var store = new StateStore(_dir);
        store.Load();
        store.Commit([Pub("a")], []);
        long good = new FileInfo(store.JournalPath).Length;
        byte[] torn = StateStore.Encode(new StateChange([Pub("b")], []));
        if (keep < 0)
        {
            torn[^2] ^= 0xff;
        }
        else
        {
            torn = torn[..keep];
        }

        using (var f = new FileStream(store.JournalPath, FileMode.Append))
        {
            f.Write(torn);
        }

        var reloaded = new StateStore(_dir);
        Assert.Equal(["a"], reloaded.Load().Publications.Select(p => p.Name));
        Assert.Equal(torn.Length, reloaded.CutTailBytes);
        Assert.Equal(good, new FileInfo(store.JournalPath).Length);
        reloaded.Commit([Pub("c")], []);
        Assert.Equal(["a", "c"], new StateStore(_dir).Load().Publications.Select(p => p.Name));
    }

    [Fact]
    public void DamageBeforeTheLastRecordStopsTheStartWithAMessage()
    {
        var store = new StateStore(_dir);
        store.Load();
        store.Commit([Pub("a")], []);
        store.Commit([Pub("b")], []);
        byte[] bytes = File.ReadAllBytes(store.JournalPath);
        bytes[14] ^= 0xff; // in the first record's payload
        File.WriteAllBytes(store.JournalPath, bytes);

        InvalidDataException e = Assert.Throws<InvalidDataException>(() => new StateStore(_dir).Load());
        Assert.Contains("state.journal", e.Message, StringComparison.Ordinal);
        Assert.Contains("fails its checksum", e.Message, StringComparison.Ordinal);
        Assert.Equal(bytes, File.ReadAllBytes(store.JournalPath)); // nothing cut, nothing dropped
    }

    [Fact]
    public void ADamagedLengthInAnEarlierRecordStopsTheStartInsteadOfLookingTorn()
    {
        var store = new StateStore(_dir);
        store.Load();
        store.Commit([Pub("a")], []);
        store.Commit([Pub("b")], []);
        byte[] bytes = File.ReadAllBytes(store.JournalPath);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes, 5000); // past the end, as a torn record would claim
        File.WriteAllBytes(store.JournalPath, bytes);

        InvalidDataException e = Assert.Throws<InvalidDataException>(() => new StateStore(_dir).Load());
        Assert.Contains("damaged header", e.Message, StringComparison.Ordinal);
        Assert.Equal(bytes, File.ReadAllBytes(store.JournalPath));
    }

    [Fact]
    public void ZerosAfterTheLastRecordAreATornAppend()
    {
        var store = new StateStore(_dir);
        store.Load();
        store.Commit([Pub("a")], []);
        using (var f = new FileStream(store.JournalPath, FileMode.Append))
        {
            f.Write(new byte[8]);
        }

        Assert.Equal(["a"], new StateStore(_dir).Load().Publications.Select(p => p.Name));
    }

    [Fact]
    public void AJournalThatOutgrowsTheSnapshotIsFoldedIntoIt()
    {
        var store = new StateStore(_dir);
        store.Load();
        for (int i = 0; store.Compactions == 0; i++)
        {
            Assert.True(i < 100_000, "never compacted");
            store.Commit([Pub($"p{i % 50}", i)], []);
        }

        Assert.False(File.Exists(store.JournalPath));
        Assert.Equal(50, new StateStore(_dir).Load().Publications.Count);
        store.Commit([], ["p0"]);
        Assert.Equal(49, new StateStore(_dir).Load().Publications.Count);
    }

    private static StoredPublication Pub(string name, int port = 80) =>
        new(name, "web", "/run/netns/web", 1, 2, [$"{port}"], [new StoredBinding("0.0.0.0", (ushort)(30000 + (port % 1000)), "tcp", 80, "nat", "10.88.0.2")], null);
}
