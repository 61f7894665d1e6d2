using PortPublisher.Netlink.Interop;

namespace PortPublisher.Netlink.Nft;

/// <summary>
/// The kernel data path in our words: install or replace the ip and ip6 port-publishing tables atomically, add and
/// remove bindings as map elements in one transaction, read per-binding counters, and tell whether the tables are
/// missing or changed. Rules never change at run time; only elements do. Not thread-safe (single writer).
/// </summary>
public sealed class NftablesBackend : IDisposable
{
    private const int EOPNOTSUPP = 95;

    private static readonly byte[] s_families = [NfNetlink.NFPROTO_IPV4, NfNetlink.NFPROTO_IPV6];

    private readonly NftConnection _conn;

    public NftablesBackend(NetworkNamespace? ns = null, NftablesOptions? options = null)
    {
        Options = options ?? new NftablesOptions();
        _conn = new NftConnection(ns);
    }

    public NftablesOptions Options { get; }

    /// <summary>Our netlink port id: nf_tables events caused by our own batches carry it in nlmsg_pid.</summary>
    public uint PortId => _conn.PortId;

    /// <summary>Bytes and messages of the last transaction, for benchmarks.</summary>
    public (int Bytes, int Messages) LastTransaction => (_conn.LastBatchBytes, _conn.LastBatchMessages);

    /// <summary>The ruleset generation: each committed transaction (ours or anyone's) adds one.</summary>
    public uint Generation => _conn.GetGeneration();

    /// <summary>
    /// True while our command socket owns both tables (<see cref="NftablesOptions.Owned"/> on a kernel that has
    /// the flags, after <see cref="InstallOrReplace"/> or <see cref="Adopt"/>).
    /// </summary>
    public bool Owns { get; private set; }

    /// <summary>Why <see cref="NftablesOptions.Owned"/> could not be honoured, or null.</summary>
    public string? OwnershipUnavailable { get; private set; }

    private uint TableFlags => Options.Owned && OwnershipUnavailable is null ? NfTables.NFT_TABLE_F_OWNER | NfTables.NFT_TABLE_F_PERSIST : 0;

    /// <summary>
    /// Creates both tables with exactly these bindings, replacing whatever tables of that name exist, in one
    /// transaction: <c>NEWTABLE t; DELTABLE t; NEWTABLE t …</c>. The first NEWTABLE carries no flags attribute, so it
    /// is a no-op on any existing table (plain, orphaned or ours) and makes the delete safe when the table is absent;
    /// the definition's NEWTABLE sets the ownership flags. The loopback guard is part of the same transaction, so no
    /// packet ever sees the maps without it. Established connections keep their conntrack NAT state throughout.
    /// </summary>
    public void InstallOrReplace(IEnumerable<NatBinding> bindings)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        List<NatBinding> all = Distinct(bindings, "install");
        try
        {
            CommitDefinition(all);
        }
        catch (NetlinkException e) when (e.Errno == EOPNOTSUPP && TableFlags != 0 && e.Operation.StartsWith("add table", StringComparison.Ordinal))
        {
            // A kernel before 6.9 has no PERSIST flag (and one before 5.12 no OWNER): plain tables, self-repaired.
            OwnershipUnavailable = $"this kernel cannot own tables ({e.Message})";
            CommitDefinition(all);
        }

        Owns = TableFlags != 0;
    }

    /// <summary>
    /// Takes ownership of existing tables of ours (orphaned by a previous run, or plain ones a firewall tool left)
    /// without touching their chains, maps or elements: a NEWTABLE per family with the ownership flags. Returns false
    /// when that needs a replacement instead (a plain table cannot be given PERSIST, EOPNOTSUPP); EPERM means another
    /// live socket owns them. A no-op unless <see cref="NftablesOptions.Owned"/>.
    /// </summary>
    public bool Adopt()
    {
        if (TableFlags == 0 || Owns)
        {
            return true;
        }

        var batch = new NftBatch();
        foreach (byte family in s_families)
        {
            batch.AddTable(family, Options.TableName, TableFlags);
        }

        try
        {
            _conn.Commit(batch);
        }
        catch (NetlinkException e) when (e.Errno == EOPNOTSUPP)
        {
            return false;
        }

        Owns = true;
        return true;
    }

    /// <summary>
    /// Adds and removes bindings in one transaction. An added key that is already bound fails the whole
    /// transaction (EEXIST), as does removing a key that is not bound (ENOENT); nothing is applied then.
    /// Replacing a binding's target is a remove and an add of the same key in one call.
    /// </summary>
    public void Apply(IEnumerable<NatBinding> add, IEnumerable<NatBinding> remove)
    {
        ArgumentNullException.ThrowIfNull(add);
        ArgumentNullException.ThrowIfNull(remove);
        List<NatBinding> adds = Distinct(add, "add");
        List<NatBinding> removes = Distinct(remove, "remove");
        if (adds.Count == 0 && removes.Count == 0)
        {
            return;
        }

        var batch = new NftBatch();
        foreach (byte family in s_families)
        {
            foreach (IGrouping<string, (string Map, NftElement Element)> map in removes.Where(b => Family(b) == family).Select(NftRuleset.ElementOf).GroupBy(e => e.Map))
            {
                batch.DeleteElements(family, Options.TableName, map.Key, [.. map.Select(e => new NftElement(e.Element.Key, null))]);
            }

            AddElements(batch, family, adds.Where(b => Family(b) == family), exclusive: true);
        }

        Commit(batch, () =>
        {
            // Sets, not scans: this runs after a lost reply with maybe 20,000 elements on each side.
            var now = ReadBindings().ToHashSet();
            var added = adds.ToHashSet();
            var left = now.Where(n => !added.Contains(n)).Select(n => n.Key).ToHashSet();
            return adds.All(now.Contains) && removes.All(r => !left.Contains(r.Key));
        });
    }

    /// <summary>
    /// Deletes both tables with everything in them (chains, rules, maps), for a host that stops using the service; a
    /// family whose table is absent is skipped. One transaction per family, so an absent ip6 table does not undo the
    /// ip one. Returns what was deleted, as <c>nft</c> names it (<c>ip portpublisher</c>).
    /// </summary>
    /// <exception cref="NetlinkException">EPERM without CAP_NET_ADMIN; anything else the kernel refuses.</exception>
    public IReadOnlyList<string> RemoveTables()
    {
        var removed = new List<string>();
        foreach (byte family in s_families)
        {
            var batch = new NftBatch();
            batch.DeleteTable(family, Options.TableName);
            try
            {
                _conn.Commit(batch);
                removed.Add($"{NftBatch.FamilyName(family)} {Options.TableName}");
            }
            catch (NetlinkException e) when (e.IsNotFound)
            {
            }
        }

        return removed;
    }

    /// <summary>Every binding in the kernel's maps.</summary>
    public IReadOnlyList<NatBinding> ReadBindings() => [.. ReadCounters().Select(c => c.Binding)];

    /// <summary>Every binding with its element counter (connections, first-packet bytes).</summary>
    /// <exception cref="NetlinkException">ENOENT when the tables are missing.</exception>
    public IReadOnlyList<NatBindingCounter> ReadCounters()
    {
        var result = new List<NatBindingCounter>();
        foreach (byte family in s_families)
        {
            foreach (string map in new[] { NftRuleset.PublishedMap, NftRuleset.PublishedAnyMap })
            {
                foreach (byte[] msg in DumpElements(family, map))
                {
                    NftDumpParser.ReadElements(msg, map, family == NfNetlink.NFPROTO_IPV6, result);
                }
            }
        }

        return result;
    }

    /// <summary>
    /// Compares the kernel's tables with ours: chains (type, hook, priority), rules (by their comments, in order),
    /// maps, and elements against <paramref name="expected"/>.
    /// </summary>
    public RulesetCheck Check(IEnumerable<NatBinding> expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        var differences = new List<string>();
        try
        {
            foreach (byte family in s_families)
            {
                CheckDefinition(family, differences);
            }

            var want = expected.ToHashSet();
            var have = ReadBindings().ToHashSet();
            differences.AddRange(want.Except(have).Select(b => $"missing element {b}"));
            differences.AddRange(have.Except(want).Select(b => $"unexpected element {b}"));
        }
        catch (NetlinkException e) when (e.IsNotFound)
        {
            return new RulesetCheck(RulesetState.Missing, [e.Message]);
        }

        return new RulesetCheck(differences.Count == 0 ? RulesetState.InSync : RulesetState.Differs, differences);
    }

    public void Dispose() => _conn.Dispose();

    private void CheckDefinition(byte family, List<string> differences)
    {
        string fam = NftBatch.FamilyName(family);
        string table = Options.TableName;
        var chains = new Dictionary<string, (string? Type, uint? Hook, int? Priority)>();
        foreach (byte[] msg in _conn.Dump(NfTables.NFT_MSG_GETCHAIN, family, w => w.WriteString(NfTables.NFTA_CHAIN_TABLE, table), $"list chains of {fam} {table}"))
        {
            (string name, string? type, uint? hook, int? prio) = NftDumpParser.ReadChain(msg);
            chains[name] = (type, hook, prio);
        }

        if (chains.Count == 0)
        {
            // GETCHAIN with a table filter answers an empty dump, not ENOENT, when the table is gone.
            throw new NetlinkException(2, $"table {fam} {table}");
        }

        var wantChains = NftRuleset.Chains.Select(c => (c.Name, (string?)c.Type, (uint?)c.Hook, (int?)c.Priority)).ToList();
        if (family == NfNetlink.NFPROTO_IPV4 && Options.LoopbackGuard)
        {
            wantChains.Add((NftRuleset.GuardChain, "filter", NfTables.NF_INET_PRE_ROUTING, -300));
        }

        foreach ((string name, string? type, uint? hook, int? prio) in wantChains)
        {
            if (!chains.TryGetValue(name, out var have))
            {
                differences.Add($"{fam} {table}: chain {name} is missing");
            }
            else if (have != (type, hook, prio))
            {
                differences.Add($"{fam} {table}: chain {name} is {have}, expected {(type, hook, prio)}");
            }
        }

        differences.AddRange(chains.Keys.Except(wantChains.Select(c => c.Name)).Select(c => $"{fam} {table}: unexpected chain {c}"));

        var rules = new List<(string Chain, string Comment)>();
        foreach (byte[] msg in _conn.Dump(NfTables.NFT_MSG_GETRULE, family, w => w.WriteString(NfTables.NFTA_RULE_TABLE, table), $"list rules of {fam} {table}"))
        {
            rules.Add(NftDumpParser.ReadRuleIdentity(msg));
        }

        IReadOnlyList<(string Chain, string Comment)> wantRules = NftRuleset.ExpectedRules(family, Options);
        foreach (string chain in wantChains.Select(c => c.Name))
        {
            var have = rules.Where(r => r.Chain == chain).Select(r => r.Comment).ToList();
            var want = wantRules.Where(r => r.Chain == chain).Select(r => Options.Comments ? r.Comment : string.Empty).ToList();
            if (!have.SequenceEqual(want))
            {
                differences.Add($"{fam} {table}: chain {chain} has rules [{string.Join(", ", have)}], expected [{string.Join(", ", want)}]");
            }
        }
    }

    private List<byte[]> DumpElements(byte family, string map) =>
        _conn.Dump(NfTables.NFT_MSG_GETSETELEM, family, w =>
        {
            w.WriteString(NfTables.NFTA_SET_ELEM_LIST_TABLE, Options.TableName);
            w.WriteString(NfTables.NFTA_SET_ELEM_LIST_SET, map);
        }, $"list map {NftBatch.FamilyName(family)} {Options.TableName} {map}");

    private void CommitDefinition(List<NatBinding> all)
    {
        var batch = new NftBatch();
        foreach (byte family in s_families)
        {
            batch.AddTable(family, Options.TableName, flags: null);
            batch.DeleteTable(family, Options.TableName);
            NftRuleset.AddDefinition(batch, family, Options, TableFlags);
            AddElements(batch, family, all.Where(b => Family(b) == family), exclusive: true);
        }

        Commit(batch, () => Check(all).State == RulesetState.InSync);
    }

    private void AddElements(NftBatch batch, byte family, IEnumerable<NatBinding> bindings, bool exclusive)
    {
        foreach (IGrouping<string, (string Map, NftElement Element)> map in bindings.Select(NftRuleset.ElementOf).GroupBy(e => e.Map))
        {
            batch.AddElements(family, Options.TableName, map.Key, [.. map.Select(e => e.Element)], exclusive);
        }
    }

    /// <summary>
    /// Commits; when replies were lost (ENOBUFS) the transaction may or may not have happened, so the state is
    /// re-read and the outcome decided by <paramref name="applied"/>.
    /// </summary>
    private void Commit(NftBatch batch, Func<bool> applied)
    {
        try
        {
            _conn.Commit(batch);
        }
        catch (NetlinkException e) when (e.Errno == 105)
        {
            if (!applied())
            {
                throw new NetlinkException(105, "nf_tables batch: replies were lost (ENOBUFS) and the ruleset does not show the change");
            }
        }
    }

    private static byte Family(NatBinding b) => b.IsIPv6 ? NfNetlink.NFPROTO_IPV6 : NfNetlink.NFPROTO_IPV4;

    /// <summary>One element per key: two bindings of one key in a transaction is a caller bug, reported before anything is sent.</summary>
    private static List<NatBinding> Distinct(IEnumerable<NatBinding> bindings, string what)
    {
        var list = new List<NatBinding>();
        var keys = new HashSet<(System.Net.IPAddress?, Core.Specs.Protocol, ushort, bool)>();
        foreach (NatBinding b in bindings)
        {
            ArgumentNullException.ThrowIfNull(b);
            NftRuleset.ElementOf(b); // validates families before anything is sent
            if (!keys.Add(b.Key))
            {
                throw new ArgumentException($"{what}: {b} appears twice");
            }

            list.Add(b);
        }

        return list;
    }
}
