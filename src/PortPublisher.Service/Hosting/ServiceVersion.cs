using System.Reflection;

namespace PortPublisher.Service.Hosting;

/// <summary>
/// The version everything prints: the informational version (<c>1.0.0+commit</c>), as <c>--version</c> prints it,
/// rather than the four-part assembly version, which says nothing about the build.
/// </summary>
internal static class ServiceVersion
{
    public static string Text { get; } =
        typeof(ServiceVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(ServiceVersion).Assembly.GetName().Version?.ToString()
        ?? "unknown";
}
