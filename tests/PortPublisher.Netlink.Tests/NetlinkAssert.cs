using System.Text;
using Xunit;

namespace PortPublisher.Netlink.Tests;

/// <summary>Byte comparison that prints both sides 4 bytes per row and marks differing rows with '!'.</summary>
internal static class NetlinkAssert
{
    public static void Equal(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual, string what)
    {
        if (expected.SequenceEqual(actual))
        {
            return;
        }

        var sb = new StringBuilder($"{what}: {expected.Length} bytes expected, {actual.Length} actual\n  offset  expected      actual\n");
        int rows = (Math.Max(expected.Length, actual.Length) + 3) / 4;
        for (int r = 0; r < rows; r++)
        {
            string e = Row(expected, r * 4), a = Row(actual, r * 4);
            sb.Append(e == a ? "  " : "! ").Append($"{r * 4:x4}    {e}   {a}\n");
        }

        Assert.Fail(sb.ToString());
    }

    private static string Row(ReadOnlySpan<byte> b, int at)
    {
        var sb = new StringBuilder();
        for (int i = at; i < at + 4; i++)
        {
            sb.Append(i < b.Length ? $"{b[i]:x2} " : "   ");
        }

        return sb.ToString().TrimEnd().PadRight(11);
    }
}
