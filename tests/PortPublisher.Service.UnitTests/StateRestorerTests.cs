using Microsoft.Extensions.Logging.Abstractions;
using NSubstitute;
using PortPublisher.Netlink;
using PortPublisher.Service.Kernel;
using PortPublisher.Service.Publications;
using PortPublisher.Service.State;
using Xunit;

namespace PortPublisher.Service.UnitTests;

public sealed class StateRestorerTests
{
    private static readonly StoredPublication s_saved = new(
        "web", "web", "/run/netns/web", 1, 2, ["7100:80"],
        [new StoredBinding("0.0.0.0", 7100, "tcp", 80, "proxy", "10.88.0.2")]);

    [Fact]
    public async Task APassingFailureParksThePublicationInStateAndARetryBringsItBack()
    {
        var p = new Pipeline();
        p.Store.Load().Returns(new StateFile(StateFile.CurrentVersion, [s_saved]));
        p.Resolver.ReopenAsync(Arg.Any<string>(), Arg.Any<(ulong, ulong)>(), Arg.Any<CancellationToken>()).Returns(_ => ValueTask.FromResult(p.Namespace));
        var restorer = new StateRestorer(p.Store, p.Registry, p.Allocator, p.Resolver, p.Reservations, p.Nat, p.Publisher, NullLogger<StateRestorer>.Instance);

        // Someone else holds port 7100 for now: not a reason to forget the publication.
        p.Reservations.FailOn = 7100;
        Assert.Equal(0, await restorer.RestoreAsync(CancellationToken.None));
        Assert.Empty(p.Saved); // the state file is not rewritten
        Assert.True(p.Registry.Contains("web"));
        Assert.Contains("address already in use", p.Registry.Parked["web"].Reason, StringComparison.Ordinal);
        Assert.Equal(0, p.Allocator.Count);
        p.Namespace.Received(1).Dispose();

        // A publish of the same name is a conflict that says why; a persist keeps the parked entry.
        PublishException e = await Assert.ThrowsAsync<PublishException>(() => p.PublishAsync("web", "8080:80").AsTask());
        Assert.Contains("saved but not active", e.Message, StringComparison.Ordinal);

        p.Reservations.FailOn = null;
        await restorer.RetryParkedAsync(CancellationToken.None);
        Assert.Empty(p.Registry.Parked);
        Assert.True(p.Registry.TryGet("web", out ActivePublication active));
        Assert.Single(active.Bindings);
        Assert.Single(Assert.Single(p.Saved).Publications);
    }

    [Fact]
    public async Task AGoneNamespaceDropsThePublication()
    {
        var p = new Pipeline();
        p.Store.Load().Returns(new StateFile(StateFile.CurrentVersion, [s_saved]));
        p.Resolver.ReopenAsync(Arg.Any<string>(), Arg.Any<(ulong, ulong)>(), Arg.Any<CancellationToken>())
            .Returns<ValueTask<ITargetNamespace>>(_ => throw new NetworkNamespaceNotFoundException("/run/netns/web is now a different namespace than the one published"));
        var restorer = new StateRestorer(p.Store, p.Registry, p.Allocator, p.Resolver, p.Reservations, p.Nat, p.Publisher, NullLogger<StateRestorer>.Instance);

        await restorer.RestoreAsync(CancellationToken.None);

        Assert.False(p.Registry.Contains("web"));
        Assert.Empty(Assert.Single(p.Saved).Publications);
    }

    [Fact]
    public async Task UnpublishOfAParkedPublicationForgetsIt()
    {
        var p = new Pipeline();
        p.Registry.Park(s_saved, "address already in use");
        await p.Publisher.UnpublishAsync("web");
        Assert.False(p.Registry.Contains("web"));
        Assert.Empty(Assert.Single(p.Saved).Publications);
    }
}
