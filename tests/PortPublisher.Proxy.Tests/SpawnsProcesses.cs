using Xunit;

namespace PortPublisher.Proxy.Tests;

/// <summary>
/// Tests that run `ip` (namespaces, links, MTUs). Between fork and exec a child holds every fd of this process, even
/// close-on-exec ones, so a socket another test just closed may still hold its port then: a parallel test that binds
/// the port again to prove it free would fail for a few milliseconds (EADDRINUSE). So these run alone, after the
/// parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SpawnsProcesses
{
    public const string Name = "spawns processes";
}
