using System.Net;
using System.Net.Sockets;
using Xunit;
using static PortPublisher.Service.Tests.Lab;
using PortPublisher.TestKit;
using static PortPublisher.Service.Tests.Net;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

/// <summary>Crashes, restarts and foreign edits of the ruleset; each test has its own lab.</summary>
[Trait("Category", "Netns")]
public sealed class RestartTests
{
    [Fact]
    public async Task Kill9_DuringANatTransfer_TheTransferCompletesAndRestartRestoresEverything()
    {
        await using Lab lab = await Lab.StartAsync();
        using var cts = new CancellationTokenSource();

        // The container streams 2 MB in two halves, the second only once the service is dead: the transfer spans the crash.
        var halfway = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var killed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using Peer streamer = Peer.TcpServer(lab.ContainerNs, ContainerV4, 80, async c =>
        {
            var chunk = new byte[20_000];
            for (int i = 0; i < 100; i++)
            {
                if (i == 50)
                {
                    await killed.Task.WaitAsync(TimeSpan.FromSeconds(20));
                }

                await c.SendAsync(chunk);
            }

            c.Shutdown(SocketShutdown.Both);
        });
        Assert.Equal(0, lab.Cli("publish", "web", "--netns", lab.Container, "-p", "8080:80", "-p", "53/udp").Code);
        string portBefore = lab.Cli("port", "web").Stdout;

        var ep = new IPEndPoint(IPAddress.Parse(HostV4), 8080);
        using Socket client = lab.ClientNs.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        await client.ConnectAsync(ep);
        Task<long> transfer = Task.Run(async () =>
        {
            var buffer = new byte[65536];
            long total = 0;
            int n;
            while ((n = await client.ReceiveAsync(buffer)) > 0)
            {
                total += n;
                if (total >= 1_000_000)
                {
                    halfway.TrySetResult();
                }
            }

            return total;
        });

        await halfway.Task.WaitAsync(TimeSpan.FromSeconds(20)); // the first half came through NAT
        lab.StopService(kill: true);
        killed.SetResult();
        Assert.Equal(2_000_000, await transfer.WaitAsync(TimeSpan.FromSeconds(20)));

        await lab.StartServiceAsync();
        Assert.Equal(portBefore, lab.Cli("port", "web").Stdout);
        await Eventually(() => Task.FromResult(lab.Log.Contains("Restored 1 publications with 4 bindings; nftables in sync, kept", StringComparison.Ordinal)));
        using var cts2 = new CancellationTokenSource(5000);
        using Socket again = lab.ClientNs.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        await again.ConnectAsync(ep, cts2.Token);
        Assert.True(await again.ReceiveAsync(new byte[10], cts2.Token) > 0);
        await cts.CancelAsync();
    }

    [Fact]
    public async Task NftFlushRuleset_LeavesTheOwnedTablesAndAnEstablishedNatStreamAlone()
    {
        await using Lab lab = await Lab.StartAsync();

        // 2 MB in two halves; between them the host's ruleset is flushed five times and our tables deleted once.
        var halfway = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using Peer streamer = Peer.TcpServer(lab.ContainerNs, ContainerV4, 80, async c =>
        {
            var chunk = new byte[20_000];
            for (int i = 0; i < 100; i++)
            {
                if (i == 50)
                {
                    await flushed.Task.WaitAsync(TimeSpan.FromSeconds(20));
                }

                await c.SendAsync(chunk);
            }

            c.Shutdown(SocketShutdown.Both);
        });
        Assert.Equal(0, lab.Cli("publish", "web", "--netns", lab.Container, "-p", "8080:80").Code);
        string tables = lab.InHost("nft -a -s list ruleset");
        using Socket client = lab.ClientNs.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        await client.ConnectAsync(new IPEndPoint(IPAddress.Parse(HostV4), 8080));
        Task<long> transfer = Task.Run(async () =>
        {
            var buffer = new byte[65536];
            long total = 0;
            int n;
            while ((n = await client.ReceiveAsync(buffer)) > 0)
            {
                total += n;
                if (total >= 1_000_000)
                {
                    halfway.TrySetResult();
                }
            }

            return total;
        });

        await halfway.Task.WaitAsync(TimeSpan.FromSeconds(20));
        for (int i = 0; i < 5; i++)
        {
            lab.InHost("nft flush ruleset");
        }

        (int code, string stdout, string stderr) = Shell.Run("ip", ["netns", "exec", lab.Host, "nft", "delete", "table", "ip", "portpublisher"]);
        Assert.True(code != 0, "another process deleted the service's table: " + stdout);
        Assert.Contains("Operation not permitted", stderr, StringComparison.Ordinal);
        flushed.SetResult();

        Assert.Equal(2_000_000, await transfer.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(tables, lab.InHost("nft -a -s list ruleset")); // same handles: nothing was rebuilt
        Assert.Contains("owned by the service", lab.Cli("status").Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("repaired in", lab.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NftFlushRuleset_UnprotectedTablesAreRepairedAndTrafficRecoversWithinASecond()
    {
        await using Lab lab = await Lab.StartAsync("--protect-tables", "false");
        using var cts = new CancellationTokenSource();
        using Peer web = Peer.TcpServer(lab.ContainerNs, ContainerV4, 80);
        Assert.Equal(0, lab.Cli("publish", "web", "--netns", lab.Container, "-p", "8080:80").Code);
        Assert.Equal($"peer={ClientV4}", await Peer.AskTcp(lab.ClientNs, HostV4, 8080));

        lab.InHost("nft flush ruleset");

        // The deadline is the assertion: traffic flows again within a second.
        await Eventually(async () =>
        {
            try
            {
                return await Peer.AskTcp(lab.ClientNs, HostV4, 8080, timeoutMs: 200) == $"peer={ClientV4}";
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                return false;
            }
        }, 1000, "a connection through the NAT'ed port after nft flush ruleset");
        await Eventually(() => Task.FromResult(lab.Log.Contains("repaired in", StringComparison.Ordinal))); // the log is written asynchronously
        await cts.CancelAsync();
    }

    [Fact]
    public async Task DualStack_NatsBothFamiliesAndServesLoopbackV6ThroughTheListener()
    {
        await using Lab lab = await Lab.StartAsync(containerIPv6: true);
        using Peer web4 = Peer.TcpServer(lab.ContainerNs, ContainerV4, 80);
        using Peer web6 = Peer.TcpServer(lab.ContainerNs, ThreeNamespaces.ContainerV6, 80);
        Assert.Equal(0, lab.Cli("publish", "dual", "--netns", lab.Container, "-p", "8080:80").Code);
        Assert.DoesNotContain("\"carrier\":\"proxy\"", lab.Cli("ls", "--json").Stdout, StringComparison.Ordinal);

        // Both families are DNAT'ed and keep the client's address.
        Assert.Equal($"peer={ClientV4}", await Peer.AskTcp(lab.ClientNs, HostV4, 8080));
        Assert.Equal($"peer={ThreeNamespaces.ClientV6}", await Peer.AskTcp(lab.ClientNs, ThreeNamespaces.HostV6, 8080));

        // [::1] cannot be DNAT'ed (the kernel keeps ::1 on lo): the [::] listener takes it and the proxy carries it.
        Assert.StartsWith("peer=", await Peer.AskTcp(lab.HostNs, "::1", 8080), StringComparison.Ordinal);
        Assert.StartsWith("peer=", await Peer.AskTcp(lab.HostNs, "127.0.0.1", 8080), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CorruptState_RefusesToStartWithAClearMessage()
    {
        await using Lab lab = await Lab.StartAsync();
        Assert.Equal(0, lab.Cli("publish", "web", "--netns", lab.Container, "-p", "8080:80").Code);
        lab.StopService(kill: false);
        File.WriteAllText(Path.Combine(lab.StateDir, "state.json"), "{ not json");
        InvalidOperationException e = await Assert.ThrowsAsync<InvalidOperationException>(() => lab.StartServiceAsync());
        Assert.Contains("cannot read state file", e.Message, StringComparison.Ordinal);
        Assert.Contains("will not start and drop publications silently", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Restart_DropsPublicationsWhoseNamespaceWasRecreated()
    {
        await using Lab lab = await Lab.StartAsync();
        string ns = lab.AddNamespace("r");
        {
            Assert.Equal(0, lab.Cli("publish", "old", "--netns", ns, "-p", "7700:80").Code);
            lab.StopService(kill: true);
            Sh($"ip netns del {ns} && ip netns add {ns}");
            await lab.StartServiceAsync();
            await Eventually(() => Task.FromResult(lab.Log.Contains("Dropped publication old on restore", StringComparison.Ordinal)));
            Assert.Equal(1, lab.Cli("port", "old").Code);
        }
    }
}
