using System.Text.RegularExpressions;
using PortPublisher.Core.Specs;

namespace PortPublisher.Core.Publications;

/// <summary>
/// Publication names follow Docker's container-name rule (<c>daemon/names</c>: <c>^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$</c>,
/// where Go's <c>$</c> is the end of the text: .NET's would also match before a final newline, so <c>\z</c> here).
/// Docker sets no length; we stop at <see cref="MaxLength"/> (a Kubernetes object name's limit), so a name fits a log
/// line, a table column and a metric label.
/// </summary>
public static partial class PublicationName
{
    public const string AllowedChars = "[a-zA-Z0-9][a-zA-Z0-9_.-]";

    public const int MaxLength = 253;

    /// <summary>Returns the name without Docker's optional leading '/', or null with an error.</summary>
    public static string? Normalize(string name, out string? error)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.TrimStart('/').Length > MaxLength)
        {
            error = $"invalid publication name: {name.Length} characters, at most {MaxLength} are allowed";
            return null;
        }

        if (!Pattern().IsMatch(name))
        {
            error = name.Length == 0
                ? "invalid publication name: value is empty"
                : $"Invalid publication name ({GoNet.Quote(name)[1..^1]}), only {AllowedChars} are allowed";
            return null;
        }

        error = null;
        return name.TrimStart('/');
    }

    [GeneratedRegex(@"\A/?[a-zA-Z0-9][a-zA-Z0-9_.-]+\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
