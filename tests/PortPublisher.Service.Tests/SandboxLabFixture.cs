using PortPublisher.TestKit;
using Xunit;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

/// <summary>
/// A lab whose service must make its sandboxes' files in this test process's mount namespace: the daemon runs under
/// <c>ip netns exec</c>, in a mount namespace that is a recursive slave of ours, as a systemd unit's is of the host's,
/// so a mount it made there would never reach us. It is given no <c>--host-mount-namespace</c>: the default (auto)
/// must find ours, its parent's (PID 1's where PID 1 is in another one and can be opened: a unit's case). Dispose removes every namespace file,
/// pin and /etc/netns directory named with the lab's prefix, even after a failed test: /run/netns and /etc/netns are
/// the real host's.
/// </summary>
public sealed class SandboxLabFixture : IAsyncLifetime
{
    private Lab? _lab;

    public Lab Lab => _lab ?? throw new InvalidOperationException("the lab did not start");

    public static string[] ServiceArgs => [];

    public async ValueTask InitializeAsync()
    {
        if (IsRoot)
        {
            _lab = await Lab.StartAsync(ServiceArgs);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_lab is null)
        {
            return;
        }

        string id = _lab.Id;
        await _lab.DisposeAsync();

        // The host namespace is gone with the lab (and the bridge and veths in it); the files are the host's.
        foreach (string dir in new[] { "/run/netns", "/run/portpublisher/uts" })
        {
            foreach (string f in Directory.Exists(dir) ? Directory.GetFiles(dir, $"{id}*") : [])
            {
                TrySh($"umount -l '{f}'; rm -f '{f}'");
            }
        }

        foreach (string d in Directory.Exists("/etc/netns") ? Directory.GetDirectories("/etc/netns", $"{id}*") : [])
        {
            Directory.Delete(d, recursive: true);
        }
    }
}
