namespace PortPublisher.Bench.Fuzz;

/// <summary>
/// Mutates a real <c>-p</c> value (Docker's recorded corpus) by characters: the grammar's separators and brackets,
/// digits, number boundaries, and anything Unicode has (NUL, surrogates, fullwidth digits). Deterministic in <c>state</c>.
/// </summary>
internal static class SpecMutator
{
    private static readonly string[] s_pieces =
    [
        ":", "::", "/", "-", "[", "]", "=", ",", "%", ".", "0", "1", "65535", "65536", "99999", "4294967296", "00080", "-1",
        "tcp", "UDP", "sctp", "icmp", "published=", "target=", "protocol=", "mode=host", "::1", "0.0.0.0", "[::]", "fe80::1%lo",
        "::ffff:1.2.3.4", "1.2.3", "1.2.3.4.5", "0-65535", " ", "\t", "\n", "\0", "\uff11", "\ud800", "é",
    ];

    public static string Mutate(string seed, ulong state)
    {
        ArgumentNullException.ThrowIfNull(seed);
        var rng = new Random(unchecked((int)state ^ (int)(state >> 32)));
        var s = new System.Text.StringBuilder(seed);
        int rounds = 1 + rng.Next(4);
        for (int r = 0; r < rounds; r++)
        {
            int at = s.Length == 0 ? 0 : rng.Next(s.Length + 1);
            switch (rng.Next(6))
            {
                case 0:
                    s.Insert(at, s_pieces[rng.Next(s_pieces.Length)]);
                    break;
                case 1 when s.Length > 0:
                    s.Remove(Math.Min(at, s.Length - 1), Math.Min(s.Length - Math.Min(at, s.Length - 1), 1 + rng.Next(4)));
                    break;
                case 2 when s.Length > 0:
                    s[Math.Min(at, s.Length - 1)] = s_pieces[rng.Next(s_pieces.Length)][0];
                    break;
                case 3 when s.Length > 0:
                    int from = rng.Next(s.Length);
                    s.Insert(at, s.ToString(from, Math.Min(s.Length - from, 1 + rng.Next(8))));
                    break;
                case 4:
                    s.Insert(at, (char)rng.Next(0x10000));
                    break;
                default:
                    s.Insert(at, rng.Next(70000).ToString(System.Globalization.CultureInfo.InvariantCulture));
                    break;
            }
        }

        return s.ToString();
    }
}
