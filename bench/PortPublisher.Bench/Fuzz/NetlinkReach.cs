namespace PortPublisher.Bench.Fuzz;

/// <summary>
/// How deep the cases got, counted across a run: a fuzzer whose inputs all die at the first header proves nothing,
/// so the report shows how many messages, bindings, chains, events… the readers really produced.
/// </summary>
internal sealed class NetlinkReach
{
    private long _messages;
    private long _malformed;
    private long _errors;
    private long _bindings;
    private long _chains;
    private long _comments;
    private long _events;
    private long _links;
    private long _addresses;
    private long _routes;
    private long _conntrack;
    private long _dumps;

    public long MessagesWalked => Interlocked.Read(ref _messages);

    public long BindingsRead => Interlocked.Read(ref _bindings);

    public long ChainsRead => Interlocked.Read(ref _chains);

    public long CommentsRead => Interlocked.Read(ref _comments);

    public long EventsDecoded => Interlocked.Read(ref _events);

    public long LinksRead => Interlocked.Read(ref _links);

    public long AddressesRead => Interlocked.Read(ref _addresses);

    public long RoutesRead => Interlocked.Read(ref _routes);

    public long ConntrackEntriesRead => Interlocked.Read(ref _conntrack);

    public long ErrorsParsed => Interlocked.Read(ref _errors);

    public void Messages(long n) => Interlocked.Add(ref _messages, n);

    public void Malformed() => Interlocked.Increment(ref _malformed);

    public void Error() => Interlocked.Increment(ref _errors);

    public void Bindings(long n) => Interlocked.Add(ref _bindings, n);

    public void Chain() => Interlocked.Increment(ref _chains);

    public void Comment() => Interlocked.Increment(ref _comments);

    public void Events(long n) => Interlocked.Add(ref _events, n);

    public void Link() => Interlocked.Increment(ref _links);

    public void Address() => Interlocked.Increment(ref _addresses);

    public void Route() => Interlocked.Increment(ref _routes);

    public void Conntrack() => Interlocked.Increment(ref _conntrack);

    public void Dump() => Interlocked.Increment(ref _dumps);

    public override string ToString() =>
        $"messages {_messages:N0}, walks ended as malformed {_malformed:N0}, NLMSG_ERRORs parsed {_errors:N0}, NAT bindings read {_bindings:N0}, " +
        $"named chains {_chains:N0}, rule comments {_comments:N0}, nf_tables events {_events:N0}, links {_links:N0}, addresses {_addresses:N0}, " +
        $"routes {_routes:N0}, conntrack UDP entries {_conntrack:N0}, dump checks that found the dump consistent {_dumps:N0}";
}
