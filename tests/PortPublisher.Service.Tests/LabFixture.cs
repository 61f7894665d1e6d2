using Xunit;

namespace PortPublisher.Service.Tests;

/// <summary>One lab (namespaces + running service) shared by the tests of a class; each test uses its own publication names and ports.</summary>
public sealed class LabFixture : IAsyncLifetime
{
    private Lab? _lab;

    public Lab Lab => _lab ?? throw new InvalidOperationException("the lab did not start");

    public async ValueTask InitializeAsync()
    {
        if (Tmds.Linux.LibC.geteuid() == 0)
        {
            _lab = await Lab.StartAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_lab is not null)
        {
            await _lab.DisposeAsync();
        }
    }
}
