using System.Buffers.Binary;

namespace PortPublisher.Bench.Fuzz;

/// <summary>
/// Mutates a real message the way length-field bugs are found: bit flips, interesting integers written over (4-aligned,
/// where every netlink length and type lives), truncation, extension, cut and duplicated slices, and a splice with a
/// second message. Deterministic in <c>state</c>, so a failing case is reproduced from CsCheck's seed.
/// </summary>
internal static class ByteMutator
{
    /// <summary>Inputs never grow past this: a netlink receive buffer of ours is 256 KiB, a datagram's attributes 64 KiB.</summary>
    public const int MaxLength = 64 * 1024;

    private static readonly uint[] s_interesting =
    [
        0, 1, 2, 3, 4, 5, 7, 8, 12, 15, 16, 17, 19, 20, 24, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x7fff, 0x8000, 0xffff, 0x10000,
        0x7fffffff, 0x80000000, 0xfffffff0, 0xfffffffc, 0xffffffff,
    ];

    public static byte[] Mutate(byte[] seed, byte[] other, ulong state)
    {
        ArgumentNullException.ThrowIfNull(seed);
        ArgumentNullException.ThrowIfNull(other);
        var rng = new Random(unchecked((int)state ^ (int)(state >> 32)));
        var data = new List<byte>(seed);
        int rounds = 1 + rng.Next(6);
        for (int r = 0; r < rounds; r++)
        {
            int at = data.Count == 0 ? 0 : rng.Next(data.Count);
            int aligned = at & ~3;
            switch (rng.Next(10))
            {
                case 0 when data.Count > 0:
                    data[at] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1 when data.Count > 0:
                    data[at] = (byte)s_interesting[rng.Next(s_interesting.Length)];
                    break;
                case 2:
                    // A u16 length or type: nla_len, nla_type, nlmsg_type, nlmsg_flags.
                    Write(data, rng.Next(2) == 0 ? aligned : aligned + 2, 2, Interesting(rng, data.Count - aligned), bigEndian: false);
                    break;
                case 3:
                    // A u32: nlmsg_len, seq, an errno, or a big-endian nf_tables value.
                    Write(data, aligned, 4, Interesting(rng, data.Count - aligned), bigEndian: rng.Next(3) == 0);
                    break;
                case 4:
                    data.RemoveRange(at, data.Count - at);
                    break;
                case 5:
                    for (int n = rng.Next(1, 33); n > 0; n--)
                    {
                        data.Add((byte)rng.Next(256));
                    }

                    break;
                case 6 when data.Count > 0:
                    data.RemoveRange(at, Math.Min(data.Count - at, 1 + rng.Next(16)));
                    break;
                case 7 when data.Count > 0:
                    data.InsertRange(at, data.GetRange(aligned, Math.Min(data.Count - aligned, 4 * (1 + rng.Next(8)))));
                    break;
                case 8 when other.Length > 0:
                    int from = rng.Next(other.Length) & ~3;
                    data.InsertRange(aligned, other.AsSpan(from, Math.Min(other.Length - from, 4 * (1 + rng.Next(16)))).ToArray());
                    break;
                default:
                    data.Insert(at, (byte)rng.Next(256));
                    break;
            }
        }

        if (data.Count > MaxLength)
        {
            data.RemoveRange(MaxLength, data.Count - MaxLength);
        }

        // Half the time nlmsg_len is made to agree with the new size, so the walk goes past the first header.
        if (data.Count >= 4 && rng.Next(2) == 0)
        {
            Write(data, 0, 4, (uint)data.Count, bigEndian: false);
        }

        return [.. data];
    }

    /// <summary>An interesting value, or the bytes left from the write (a length that points exactly at the end, or one past).</summary>
    private static uint Interesting(Random rng, int left) => rng.Next(4) switch
    {
        0 => (uint)Math.Max(0, left + rng.Next(-4, 5)),
        _ => s_interesting[rng.Next(s_interesting.Length)],
    };

    private static void Write(List<byte> data, int at, int width, uint value, bool bigEndian)
    {
        if (at + width > data.Count)
        {
            return;
        }

        Span<byte> b = stackalloc byte[4];
        if (bigEndian)
        {
            BinaryPrimitives.WriteUInt32BigEndian(b, width == 4 ? value : value << 16);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        }

        for (int i = 0; i < width; i++)
        {
            data[at + i] = b[i];
        }
    }
}
