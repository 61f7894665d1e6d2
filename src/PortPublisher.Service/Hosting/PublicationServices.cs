using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using PortPublisher.Core.Allocation;
using PortPublisher.Service.Kernel;
using PortPublisher.Service.Options;
using PortPublisher.Service.Publications;
using PortPublisher.Service.State;

namespace PortPublisher.Service.Hosting;

/// <summary>The publication pipeline and its kernel seams, composed by the host's container.</summary>
internal static class PublicationServices
{
    public static IServiceCollection AddPublications(this IServiceCollection services)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new PipelineDeadlines());

        // Kernel seams: each small enough to fake in unit tests.
        services.AddSingleton<IStateStore>(sp => new StateStore(sp.GetRequiredService<IOptions<PortPublisherOptions>>().Value.StateDir));
        services.AddSingleton<INatBackend, NftablesNat>();
        services.AddSingleton<IProxyHost, ProxyHost>();
        services.AddSingleton<IPortReservations, SocketReservations>();
        services.AddSingleton<NamespaceHandles>();
        services.AddSingleton<ITargetResolver, TargetResolver>();
        services.AddSingleton<IHostSysctls, HostSysctls>();
        services.AddSingleton<IConntrack, KernelConntrack>();
        services.AddSingleton(sp =>
        {
            string? range = sp.GetRequiredService<IOptions<PortPublisherOptions>>().Value.DynamicPorts;
            return new PortAllocator(string.IsNullOrEmpty(range) || !OptionsCheck.TryRange(range, out ushort start, out ushort end)
                ? new ProcPortRangeSource()
                : new FixedPortRangeSource(new Core.Specs.PortRange(start, end)));
        });

        // The pipeline.
        services.AddSingleton<PublicationRegistry>();
        services.AddSingleton<CommandQueue>();
        services.AddSingleton<NatReconciler>();
        services.AddSingleton<Publisher>();
        services.AddSingleton<StateRestorer>();
        services.AddSingleton<NamespaceWatcher>();
        services.AddSingleton<LinkWatcher>();
        services.AddSingleton<ParkedRetrier>();
        services.AddSingleton<PublicationManager>();
        services.AddHostedService(sp => sp.GetRequiredService<PublicationManager>());
        return services;
    }
}
