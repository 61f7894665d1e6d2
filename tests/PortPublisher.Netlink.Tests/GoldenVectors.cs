using System.Globalization;

namespace PortPublisher.Netlink.Tests;

/// <summary>Reads nft-vectors.txt: "-- NAME: len=…" headers followed by hex rows.</summary>
internal static class GoldenVectors
{
    public static List<(string Name, byte[] Bytes)> Read()
    {
        var result = new List<(string, List<byte>)>();
        foreach (string line in File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "TestData", "nft-vectors.txt")))
        {
            if (line.StartsWith("-- ", StringComparison.Ordinal))
            {
                result.Add((line[3..line.IndexOf(':', StringComparison.Ordinal)], []));
            }
            else if (result.Count > 0 && line.StartsWith("    ", StringComparison.Ordinal))
            {
                foreach (string hex in line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1))
                {
                    result[^1].Item2.Add(byte.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                }
            }
        }

        return [.. result.Select(r => (r.Item1, r.Item2.ToArray()))];
    }
}
