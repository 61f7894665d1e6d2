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
        services.AddSingleton<ITargetResolver, TargetResolver>();
        services.AddSingleton<IHostSysctls, HostSysctls>();
        services.AddSingleton<IConntrack, KernelConntrack>();
        services.AddSingleton(sp =>
        {
            string? range = sp.GetRequiredService<IOptions<PortPublisherOptions>>().Value.DynamicPorts;
            return new PortAllocator(string.IsNullOrEmpty(range) ? new ProcPortRangeSource() : new FixedPortRangeSource(ParseRange(range)));
        });

        // The pipeline.
        services.AddSingleton<PublicationRegistry>();
        services.AddSingleton<CommandQueue>();
        services.AddSingleton<NatReconciler>();
        services.AddSingleton<Publisher>();
        services.AddSingleton<StateRestorer>();
        services.AddSingleton<NamespaceWatcher>();
        services.AddSingleton<PublicationManager>();
        services.AddHostedService(sp => sp.GetRequiredService<PublicationManager>());
        return services;
    }

    private static Core.Specs.PortRange ParseRange(string text)
    {
        string[] f = text.Split('-');
        return new Core.Specs.PortRange(ushort.Parse(f[0], System.Globalization.CultureInfo.InvariantCulture), ushort.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture));
    }
}
