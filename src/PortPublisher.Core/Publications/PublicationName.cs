using System.Text.RegularExpressions;

namespace PortPublisher.Core.Publications;

/// <summary>Publication names follow Docker's container-name rule (<c>daemon/names</c>: <c>^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$</c>).</summary>
public static partial class PublicationName
{
    public const string AllowedChars = "[a-zA-Z0-9][a-zA-Z0-9_.-]";

    /// <summary>Returns the name without Docker's optional leading '/', or null with an error.</summary>
    public static string? Normalize(string name, out string? error)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!Pattern().IsMatch(name))
        {
            error = name.Length == 0
                ? "invalid publication name: value is empty"
                : $"Invalid publication name ({name}), only {AllowedChars} are allowed";
            return null;
        }

        error = null;
        return name.TrimStart('/');
    }

    [GeneratedRegex("^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
