namespace PortPublisher.Service.State;

/// <summary>
/// Run-length coding of a publication's bindings, in their order. A block is the consecutive entries that share host
/// port, protocol, container port and a <see cref="StoredBinding.Count"/> n above 1 (one allocation group: a wildcard
/// pair, or one address); it stands for n such groups, the j-th with both ports + j. So the 20,000 bindings of
/// <c>-p 20000-29999:20000-29999</c> (0.0.0.0 and [::] of each port, interleaved) are two entries, and a publish or a
/// restore costs the size of the specs, not of the ports. Entries without a count are one binding each.
/// </summary>
internal static class StoredBindingRuns
{
    /// <summary>The entries to save for <paramref name="bindings"/> (each with no <see cref="StoredBinding.Count"/>), in order.</summary>
    public static List<StoredBinding> Compress(IReadOnlyList<StoredBinding> bindings)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        var result = new List<StoredBinding>();
        int i = 0;
        while (i < bindings.Count)
        {
            int size = GroupSize(bindings, i);
            int runs = 1;
            while (i + ((runs + 1) * size) <= bindings.Count && Continues(bindings, i, size, runs))
            {
                runs++;
            }

            for (int k = 0; k < size; k++)
            {
                result.Add(runs > 1 ? bindings[i + k] with { Count = runs } : bindings[i + k]);
            }

            i += runs * size;
        }

        return result;
    }

    /// <summary>Every binding the saved entries stand for, in order.</summary>
    /// <exception cref="InvalidDataException">A run that is not a valid block (a count below 1, ports past 65535).</exception>
    public static List<StoredBinding> Expand(IReadOnlyList<StoredBinding> saved)
    {
        ArgumentNullException.ThrowIfNull(saved);
        var result = new List<StoredBinding>(saved.Count);
        int i = 0;
        while (i < saved.Count)
        {
            StoredBinding first = saved[i];
            int n = first.Count ?? 1;
            if (n < 1 || first.HostPort + n - 1 > ushort.MaxValue || first.ContainerPort + n - 1 > ushort.MaxValue)
            {
                throw new InvalidDataException($"binding {first.HostIp}:{first.HostPort}/{first.Protocol} has a count of {n}, which its ports cannot hold");
            }

            if (n == 1)
            {
                result.Add(first with { Count = null });
                i++;
                continue;
            }

            int size = 1;
            while (i + size < saved.Count && SameGroup(saved[i + size], first) && saved[i + size].Count == n)
            {
                size++;
            }

            for (int j = 0; j < n; j++)
            {
                for (int k = 0; k < size; k++)
                {
                    StoredBinding b = saved[i + k];
                    result.Add(b with { HostPort = (ushort)(b.HostPort + j), ContainerPort = (ushort)(b.ContainerPort + j), Count = null });
                }
            }

            i += size;
        }

        return result;
    }

    /// <summary>How many consecutive bindings from <paramref name="at"/> share host port, protocol and container port.</summary>
    private static int GroupSize(IReadOnlyList<StoredBinding> b, int at)
    {
        int size = 1;
        while (at + size < b.Count && SameGroup(b[at + size], b[at]))
        {
            size++;
        }

        return size;
    }

    /// <summary>Whether group number <paramref name="runs"/> after <paramref name="at"/> is the first with both ports + runs.</summary>
    private static bool Continues(IReadOnlyList<StoredBinding> b, int at, int size, int runs)
    {
        int next = at + (runs * size);

        // The group must end where the block's would (a bigger group there is not the same shape).
        if (next + size < b.Count && SameGroup(b[next + size], b[next]))
        {
            return false;
        }

        for (int k = 0; k < size; k++)
        {
            StoredBinding first = b[at + k], candidate = b[next + k];
            if (candidate.HostPort != first.HostPort + runs || candidate.ContainerPort != first.ContainerPort + runs
                || candidate.HostIp != first.HostIp || candidate.Protocol != first.Protocol
                || candidate.Carrier != first.Carrier || candidate.TargetIp != first.TargetIp)
            {
                return false;
            }
        }

        return true;
    }

    private static bool SameGroup(StoredBinding a, StoredBinding b) =>
        a.HostPort == b.HostPort && a.Protocol == b.Protocol && a.ContainerPort == b.ContainerPort;
}
