using Microsoft.Extensions.DependencyInjection;

namespace PortPublisher.Service.Sandboxes;

/// <summary>The sandbox manager, after the publication pipeline (it publishes through it) in the host's start order.</summary>
internal static class SandboxServices
{
    public static IServiceCollection AddSandboxes(this IServiceCollection services)
    {
        services.AddOptions<SandboxOptions>().BindConfiguration(SandboxOptions.Section);
        services.AddSingleton<SandboxManager>();
        services.AddHostedService(sp => sp.GetRequiredService<SandboxManager>());
        return services;
    }
}
