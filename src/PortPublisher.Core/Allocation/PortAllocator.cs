using System.Net;
using System.Net.Sockets;
using PortPublisher.Core.Specs;

namespace PortPublisher.Core.Allocation;

/// <summary>
/// Docker's port allocator (moby v28 <c>libnetwork/portallocator</c>; docker-semantics.md §2.3–2.4), with
/// all-or-nothing batches. Ports are tracked per (host address, protocol); dynamic and range requests walk
/// round-robin from a cursor kept per (address, protocol, range) and take the first port free on every
/// address of the group. Unlike Docker, a wildcard address conflicts with a specific address of the same
/// family on the same port and protocol, for UDP too: Docker leaves that to the kernel, which lets UDP
/// sockets with SO_REUSEADDR share the port silently.
/// Not thread-safe: the publication manager is its single writer.
/// </summary>
public sealed class PortAllocator
{
    /// <summary>moby's <c>maxAllocatePortAttempts</c>: binds tried for a range or dynamic request.</summary>
    public const int MaxAttempts = 10;

    private readonly IPortRangeSource _ranges;
    private readonly Dictionary<(IPAddress Ip, Protocol Protocol), HashSet<ushort>> _used = [];
    private readonly Dictionary<(IPAddress Ip, Protocol Protocol, PortRange Range), ushort> _cursors = [];

    public PortAllocator(IPortRangeSource ranges)
    {
        ArgumentNullException.ThrowIfNull(ranges);
        _ranges = ranges;
    }

    /// <summary>The range dynamic requests allocate from.</summary>
    public PortRange DynamicRange => _ranges.DynamicRange;

    /// <summary>
    /// Allocates host ports for every request, in order, grouping consecutive requests that differ only in
    /// host address (they get one port). Either all succeed or nothing changes: ports, cursors and reservations
    /// taken by this call are given back before the error is thrown.
    /// </summary>
    /// <exception cref="PortAllocationException">With Docker's text: <c>Bind for 0.0.0.0:8080 failed: port is already allocated</c>, <c>all ports are allocated</c>, or the reserver's error.</exception>
    public IReadOnlyList<HostBinding> Allocate(IReadOnlyList<BindingRequest> requests, IHostPortReserver? reserver = null)
    {
        ArgumentNullException.ThrowIfNull(requests);
        AllocatorCheckpoint before = Checkpoint();
        var taken = new List<HostBinding>();
        var reserved = new List<IReadOnlyList<HostBinding>>();
        try
        {
            for (int from = 0; from < requests.Count;)
            {
                int to = from + 1;
                while (to < requests.Count && requests[to].NeedsSamePortAs(requests[from]))
                {
                    to++;
                }

                IReadOnlyList<HostBinding> group = AllocateGroup(requests, from, to, reserver);
                taken.AddRange(group);
                if (reserver is not null)
                {
                    reserved.Add(group);
                }

                from = to;
            }

            return taken;
        }
        catch
        {
            foreach (IReadOnlyList<HostBinding> group in reserved)
            {
                reserver!.Unreserve(group);
            }

            Release(taken);
            Rewind(before);
            throw;
        }
    }

    /// <summary>The round-robin cursors now, to put back with <see cref="Rewind"/> when what was allocated is dropped.</summary>
    public AllocatorCheckpoint Checkpoint() => new(new Dictionary<(IPAddress, Protocol, PortRange), ushort>(_cursors));

    /// <summary>
    /// Puts the cursors back where <paramref name="checkpoint"/> found them: a dry run, or a publish that failed after
    /// allocating, leaves the next dynamic pick where it was (Docker's allocator has no dry run; its failures move on).
    /// </summary>
    public void Rewind(AllocatorCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        _cursors.Clear();
        foreach (KeyValuePair<(IPAddress, Protocol, PortRange), ushort> kv in checkpoint.Cursors)
        {
            _cursors.Add(kv.Key, kv.Value);
        }
    }

    /// <summary>Marks bindings that already exist (state restored after a restart) as allocated.</summary>
    /// <exception cref="PortAllocationException">One of them is already allocated; none is marked.</exception>
    public void Restore(IReadOnlyList<HostBinding> bindings)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        var marked = new List<HostBinding>();
        foreach (HostBinding b in bindings)
        {
            if (IsAllocated(b.HostIp, b.Protocol, b.HostPort))
            {
                Release(marked);
                throw new PortAllocationException(AlreadyAllocated(b.HostIp, b.HostPort));
            }

            Mark(b.HostIp, b.Protocol, b.HostPort);
            marked.Add(b);
        }
    }

    /// <summary>Returns ports to the pool. Cursors stay where they are, so the next dynamic pick moves on (round-robin).</summary>
    public void Release(IEnumerable<HostBinding> bindings)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        foreach (HostBinding b in bindings)
        {
            if (_used.TryGetValue((b.HostIp, b.Protocol), out HashSet<ushort>? set))
            {
                set.Remove(b.HostPort);
                if (set.Count == 0)
                {
                    _used.Remove((b.HostIp, b.Protocol));
                }
            }
        }
    }

    /// <summary>True when the port is taken on this address, or on an address that overlaps it (the family's wildcard, or any address of the family for a wildcard).</summary>
    public bool IsAllocated(IPAddress hostIp, Protocol protocol, ushort port)
    {
        ArgumentNullException.ThrowIfNull(hostIp);
        if (Holds(hostIp, protocol, port))
        {
            return true;
        }

        IPAddress wildcard = Wildcard(hostIp.AddressFamily);
        if (!hostIp.Equals(wildcard))
        {
            return Holds(wildcard, protocol, port);
        }

        foreach (KeyValuePair<(IPAddress Ip, Protocol Protocol), HashSet<ushort>> kv in _used)
        {
            if (kv.Key.Protocol == protocol && kv.Key.Ip.AddressFamily == hostIp.AddressFamily && kv.Value.Contains(port))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>How many ports are allocated, over all addresses and protocols.</summary>
    public int Count => _used.Values.Sum(s => s.Count);

    private List<HostBinding> AllocateGroup(IReadOnlyList<BindingRequest> requests, int from, int to, IHostPortReserver? reserver)
    {
        BindingRequest first = requests[from];
        if (first.IsExact)
        {
            ushort port = first.HostPorts.Start;
            for (int i = from; i < to; i++)
            {
                if (IsAllocated(requests[i].HostIp, first.Protocol, port))
                {
                    throw new PortAllocationException(AlreadyAllocated(requests[i].HostIp, port));
                }
            }

            List<HostBinding> group = Take(requests, from, to, port);
            TryReserve(group, exact: true, reserver, rethrow: true);
            return group;
        }

        PortAllocationException? last = null;
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            ushort port = NextFree(requests, from, to);
            List<HostBinding> group = Take(requests, from, to, port);
            last = TryReserve(group, exact: false, reserver, rethrow: false);
            if (last is null)
            {
                return group;
            }
        }

        throw last!;
    }

    private PortAllocationException? TryReserve(List<HostBinding> group, bool exact, IHostPortReserver? reserver, bool rethrow)
    {
        if (reserver is null)
        {
            return null;
        }

        try
        {
            reserver.Reserve(group, exact);
            return null;
        }
        catch (PortAllocationException e)
        {
            Release(group);
            if (rethrow)
            {
                throw;
            }

            return e;
        }
    }

    private List<HostBinding> Take(IReadOnlyList<BindingRequest> requests, int from, int to, ushort port)
    {
        var group = new List<HostBinding>(to - from);
        for (int i = from; i < to; i++)
        {
            BindingRequest r = requests[i];
            Mark(r.HostIp, r.Protocol, port);
            group.Add(new HostBinding(r.HostIp, port, r.Protocol, r.ContainerPort));
        }

        return group;
    }

    /// <summary>Walks the range once from the first address's cursor + 1, wrapping; sets every cursor to the pick.</summary>
    private ushort NextFree(IReadOnlyList<BindingRequest> requests, int from, int to)
    {
        BindingRequest first = requests[from];
        bool dynamic = first.HostPorts.IsDynamic;
        PortRange range = dynamic ? _ranges.DynamicRange : first.HostPorts;
        if (!_cursors.TryGetValue((first.HostIp, first.Protocol, range), out ushort cursor))
        {
            cursor = range.End;
        }

        int port = cursor;
        for (int n = 0; n < range.Count; n++)
        {
            port = port >= range.End ? range.Start : port + 1;
            if (dynamic && _ranges.IsReserved((ushort)port))
            {
                continue;
            }

            bool free = true;
            for (int i = from; i < to && free; i++)
            {
                free = !IsAllocated(requests[i].HostIp, first.Protocol, (ushort)port);
            }

            if (free)
            {
                for (int i = from; i < to; i++)
                {
                    _cursors[(requests[i].HostIp, first.Protocol, range)] = (ushort)port;
                }

                return (ushort)port;
            }
        }

        throw new PortAllocationException("all ports are allocated");
    }

    private bool Holds(IPAddress ip, Protocol protocol, ushort port) =>
        _used.TryGetValue((ip, protocol), out HashSet<ushort>? set) && set.Contains(port);

    private void Mark(IPAddress ip, Protocol protocol, ushort port)
    {
        if (!_used.TryGetValue((ip, protocol), out HashSet<ushort>? set))
        {
            _used[(ip, protocol)] = set = [];
        }

        set.Add(port);
    }

    private static IPAddress Wildcard(AddressFamily family) =>
        family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;

    /// <summary>Go's <c>net.IP.String()</c> has no brackets: <c>Bind for :::8080 failed…</c>.</summary>
    private static string AlreadyAllocated(IPAddress ip, ushort port) => $"Bind for {ip}:{port} failed: port is already allocated";
}
