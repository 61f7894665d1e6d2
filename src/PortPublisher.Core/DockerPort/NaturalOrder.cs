using System.Text;

namespace PortPublisher.Core.DockerPort;

/// <summary>
/// fvbommel/sortorder v1.1.0 <c>NaturalLess</c>, which <c>docker port</c> sorts with: runs of ASCII digits compare
/// numerically (fewer leading zeros win a tie), a digit sorts before any other byte, other bytes compare as UTF-8.
/// </summary>
public sealed class NaturalOrder : IComparer<string>
{
    public static readonly NaturalOrder Instance = new();

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }

        byte[] a = Encoding.UTF8.GetBytes(x ?? string.Empty);
        byte[] b = Encoding.UTF8.GetBytes(y ?? string.Empty);
        return Less(a, b) ? -1 : Less(b, a) ? 1 : 0;
    }

    public static bool Less(ReadOnlySpan<byte> s1, ReadOnlySpan<byte> s2)
    {
        int i1 = 0, i2 = 0;
        while (i1 < s1.Length && i2 < s2.Length)
        {
            byte c1 = s1[i1], c2 = s2[i2];
            bool d1 = IsDigit(c1), d2 = IsDigit(c2);
            if (d1 != d2)
            {
                return d1;
            }

            if (!d1)
            {
                if (c1 != c2)
                {
                    return c1 < c2;
                }

                i1++;
                i2++;
                continue;
            }

            while (i1 < s1.Length && s1[i1] == '0')
            {
                i1++;
            }

            while (i2 < s2.Length && s2[i2] == '0')
            {
                i2++;
            }

            int nz1 = i1, nz2 = i2;
            while (i1 < s1.Length && IsDigit(s1[i1]))
            {
                i1++;
            }

            while (i2 < s2.Length && IsDigit(s2[i2]))
            {
                i2++;
            }

            int len1 = i1 - nz1, len2 = i2 - nz2;
            if (len1 != len2)
            {
                return len1 < len2;
            }

            int c = s1[nz1..i1].SequenceCompareTo(s2[nz2..i2]);
            if (c != 0)
            {
                return c < 0;
            }

            if (nz1 != nz2)
            {
                return nz1 < nz2;
            }
        }

        return s1.Length < s2.Length;
    }

    private static bool IsDigit(byte c) => c is >= (byte)'0' and <= (byte)'9';
}
