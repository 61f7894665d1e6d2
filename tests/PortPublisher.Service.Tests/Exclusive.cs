using Xunit;

namespace PortPublisher.Service.Tests;

/// <summary>
/// The fault, soak and shutdown suites: they load both cores or measure time (a repair deadline, watchdog gaps, CPU in
/// a quiet window), so they run alone, after the parallel tests, rather than beside another lab.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class Exclusive
{
    public const string Name = "exclusive";
}
