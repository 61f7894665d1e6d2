using System.Security.Cryptography;
using System.Text;

namespace PortPublisher.Cni.Spec;

/// <summary>One CNI attachment: a container's interface on a network. Its publications are keyed by it.</summary>
internal sealed record Attachment(string ContainerId, string IfName)
{
    private const int IFNAMSIZ = 16;

    /// <summary>
    /// The service's publication name for it: <c>cni-CONTAINERID-IFNAME</c>, readable in <c>portpublisher ls</c>, when
    /// that is a valid publication name; else <c>cni-</c> and 32 hex of a SHA-256 of both (an interface name may hold
    /// characters a publication name may not). Either way the same attachment always gets the same name.
    /// </summary>
    public string PublicationName
    {
        get
        {
            string plain = $"cni-{ContainerId}-{IfName}";
            if (Core.Publications.PublicationName.Normalize(plain, out _) == plain)
            {
                return plain;
            }

            byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{ContainerId}/{IfName}"));
            return $"cni-{Convert.ToHexStringLower(hash.AsSpan(0, 16))}";
        }
    }

    public override string ToString() => $"{ContainerId}/{IfName}";

    /// <summary>libcni's <c>ValidateContainerID</c>: <c>^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$</c>.</summary>
    public static bool IsValidContainerId(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (id.Length == 0 || !char.IsAsciiLetterOrDigit(id[0]))
        {
            return false;
        }

        foreach (char c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '.' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>libcni's <c>ValidateInterfaceName</c> (the kernel's <c>dev_valid_name</c>): null when valid, else why not.</summary>
    public static string? InterfaceNameError(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0)
        {
            return "interface name is empty";
        }

        if (Encoding.UTF8.GetByteCount(name) > IFNAMSIZ - 1)
        {
            return "interface name is too long";
        }

        if (name is "." or "..")
        {
            return "interface name is . or ..";
        }

        foreach (char c in name)
        {
            if (c is '/' or ':' || char.IsWhiteSpace(c))
            {
                return "interface name contains / or : or whitespace characters";
            }
        }

        return null;
    }
}
