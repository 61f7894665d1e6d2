using System.Security.Cryptography;

namespace PortPublisher.Core.Sandboxes;

/// <summary>A sandbox's ID: 64 random hex characters like a Docker container ID; its first 12 are the default hostname.</summary>
public static class SandboxId
{
    public static string New() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public static string DefaultHostname(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        return id[..12];
    }

    /// <summary>Docker 28's <c>GenerateRandomMAC</c>: random bytes, unicast (bit 0 clear) and locally administered (bit 1 set).</summary>
    public static byte[] RandomMac()
    {
        byte[] mac = RandomNumberGenerator.GetBytes(6);
        mac[0] = (byte)((mac[0] & 0xfe) | 0x02);
        return mac;
    }

    /// <summary>libnetwork's veth names: "veth" plus 7 random hex characters.</summary>
    public static string VethName() => "veth" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))[..7];
}
