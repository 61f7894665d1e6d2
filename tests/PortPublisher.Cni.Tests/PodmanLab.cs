using PortPublisher.TestKit;
using Xunit;

namespace PortPublisher.Cni.Tests;

/// <summary>
/// Podman 4 (Debian's 4.3.1, CNI backend) in a throwaway host namespace: its own containers.conf, storage (vfs),
/// run and tmp directories, CNI configuration directory and plugin directory, so nothing global of Podman's is used,
/// and a network <c>ppnet</c> chaining bridge + host-local + portpublisher-cni (or Debian's portmap, for comparison).
/// Podman runs under <c>nsenter --net</c>: in the host namespace's network but the machine's mount namespace, so the
/// container namespaces it pins under /run/netns are visible to portpublisherd. An image is imported from
/// busybox-static (no registry). Everything is removed on dispose.
/// </summary>
public sealed class PodmanLab : IDisposable
{
    public const string Subnet = "10.89.7.0/24";
    public const string Gateway = "10.89.7.1";
    public const string Image = "localhost/ppbb:test";

    private PodmanLab(ThreeNamespaces ns, string dir, string slot)
    {
        Ns = ns;
        Dir = dir;
        Slot = slot;
    }

    public ThreeNamespaces Ns { get; }

    public string Dir { get; }

    /// <summary>What fills the chain's third slot: <c>portpublisher-cni</c> or <c>portmap</c>.</summary>
    public string Slot { get; }

    public string Socket => Path.Combine(Dir, "svc", "pp.sock");

    public string StateDir => Path.Combine(Dir, "state");

    public ServiceProcess? Service { get; private set; }

    /// <summary>Skips (with the reason) unless root, podman, runc, the CNI plugins and busybox-static are here.</summary>
    public static void Require()
    {
        Root.Require("nsenter", "curl");
        foreach ((string path, string package) in new[] { ("/usr/bin/podman", "podman"), ("/usr/sbin/runc", "runc"), ("/usr/lib/cni/bridge", "containernetworking-plugins"), ("/bin/busybox", "busybox-static") })
        {
            if (!File.Exists(path))
            {
                Assert.Skip($"needs {path} (Debian package {package}; scripts/test.sh installs it)");
            }
        }
    }

    /// <param name="slot"><c>portpublisher-cni</c> (the plugin under test) or <c>portmap</c> (Debian's, for the side by side).</param>
    /// <param name="withService">Start portpublisherd in the host namespace first (the plugin then goes through it).</param>
    /// <param name="pluginOptions">Extra members of the plugin's configuration.</param>
    public static PodmanLab Create(string slot = "portpublisher-cni", bool withService = false, string pluginOptions = "")
    {
        Require();
        ThreeNamespaces ns = ThreeNamespaces.Create(containerIPv6: false, forwarding: false);
        string dir = Directory.CreateTempSubdirectory("ppcni-podman-").FullName;
        var lab = new PodmanLab(ns, dir, slot);
        try
        {
            lab.Build(pluginOptions);
            if (withService)
            {
                lab.Service = ServiceProcess.Start(ns.Host, Path.Combine(dir, "svc"));
            }

            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>Runs podman (its output, or a failed assertion with it).</summary>
    public string Podman(params string[] args)
    {
        (int code, string stdout, string stderr) = TryPodman(args);
        Assert.True(code == 0, $"podman {string.Join(' ', args)} exited {code}: {stderr}");
        return stdout;
    }

    public (int Code, string Stdout, string Stderr) TryPodman(params string[] args) =>
        Shell.Run("nsenter", [$"--net=/run/netns/{Ns.Host}", "podman", "--tmpdir", Path.Combine(Dir, "tmp"), .. args], Environment, timeoutMs: 120_000);

    /// <summary>curl from a namespace of the lab; the body, or null when it could not connect.</summary>
    public string? Curl(string netns, string url)
    {
        (int code, string stdout, _) = Shell.Run("ip", ["netns", "exec", netns, "curl", "-s", "-m", "5", url]);
        return code == 0 ? stdout.Trim() : null;
    }

    /// <summary>An HTTP GET from inside a container, through busybox nc (its wget is not reliable in a static rootfs).</summary>
    public string? CurlFromContainer(string container, string ip, int port)
    {
        (int code, string stdout, _) = TryPodman("exec", container, "sh", "-c", $"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {ip} {port} | tail -1");
        return code == 0 && stdout.Trim().Length > 0 ? stdout.Trim() : null;
    }

    /// <summary>NAT elements the plugin (or the service) holds, one line per element, counters left out.</summary>
    public IReadOnlyList<string> Elements()
    {
        var lines = new List<string>();
        string table = Service is null ? "portpublisher-cni" : "portpublisher";
        foreach (string family in new[] { "ip", "ip6" })
        {
            foreach (string map in new[] { "published", "published_any" })
            {
                (int code, string stdout, _) = Shell.Run("ip", ["netns", "exec", Ns.Host, "nft", "-j", "list", "map", family, table, map]);
                if (code != 0)
                {
                    continue;
                }

                using var doc = System.Text.Json.JsonDocument.Parse(stdout);
                foreach (System.Text.Json.JsonElement item in doc.RootElement.GetProperty("nftables").EnumerateArray())
                {
                    if (item.TryGetProperty("map", out System.Text.Json.JsonElement m) && m.TryGetProperty("elem", out System.Text.Json.JsonElement elems))
                    {
                        foreach (System.Text.Json.JsonElement e in elems.EnumerateArray())
                        {
                            // [key, value]: the key's counter lives inside an "elem" wrapper; drop it.
                            System.Text.Json.JsonElement key = e[0].TryGetProperty("elem", out System.Text.Json.JsonElement inner) ? inner.GetProperty("val") : e[0];
                            lines.Add($"{family} {map} {key.GetRawText()} : {e[1].GetRawText()}");
                        }
                    }
                }
            }
        }

        lines.Sort(StringComparer.Ordinal);
        return lines;
    }

    public void Dispose()
    {
        try
        {
            TryPodman("rm", "-a", "-f", "-t", "0");
        }
        catch (TimeoutException)
        {
        }

        Service?.Dispose();
        Ns.Dispose();
        Shell.TrySh($"umount -R {Dir}/runroot 2>/dev/null; umount -R {Dir}/root 2>/dev/null");
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private IDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["CONTAINERS_CONF"] = Path.Combine(Dir, "containers.conf"),
        ["CONTAINERS_STORAGE_CONF"] = Path.Combine(Dir, "storage.conf"),
        ["CONTAINERS_REGISTRIES_CONF"] = Path.Combine(Dir, "registries.conf"),
    };

    private void Build(string pluginOptions)
    {
        string bin = Path.Combine(Dir, "bin");
        Directory.CreateDirectory(bin);
        Directory.CreateDirectory(StateDir);

        // The runtime finds a plugin by its type in cni_plugin_dirs; a wrapper keeps the build's apphost beside its dll.
        File.WriteAllText(Path.Combine(bin, "portpublisher-cni"), $"#!/bin/sh\nexec {PluginProcess.Binary} \"$@\"\n");
        File.SetUnixFileMode(Path.Combine(bin, "portpublisher-cni"), (UnixFileMode)0x1ed);

        // No CAP_SYS_RESOURCE here (a sandboxed root): limits below the hard ones; runc, as crun refuses hybrid cgroups.
        File.WriteAllText(Path.Combine(Dir, "containers.conf"), $"""
            [containers]
            default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
            [engine]
            cgroup_manager = "cgroupfs"
            events_logger = "file"
            events_logfile_path = "{Dir}/events.log"
            runtime = "runc"
            [network]
            network_backend = "cni"
            cni_plugin_dirs = ["{bin}", "/usr/lib/cni"]
            network_config_dir = "{Dir}/net.d"
            """);
        File.WriteAllText(Path.Combine(Dir, "storage.conf"), $"[storage]\ndriver = \"vfs\"\ngraphroot = \"{Dir}/root\"\nrunroot = \"{Dir}/runroot\"\n");
        File.WriteAllText(Path.Combine(Dir, "registries.conf"), "unqualified-search-registries = []\n");

        string third = Slot == "portmap"
            ? "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true},\"snat\":true}"
            : $"{{\"type\":\"portpublisher-cni\",\"capabilities\":{{\"portMappings\":true}},\"socket\":\"{Socket}\",\"stateDir\":\"{StateDir}\"{(pluginOptions.Length > 0 ? "," + pluginOptions : string.Empty)}}}";
        Directory.CreateDirectory(Path.Combine(Dir, "net.d"));
        string ipam = $"{{\"type\":\"host-local\",\"routes\":[{{\"dst\":\"0.0.0.0/0\"}}],\"ranges\":[[{{\"subnet\":\"{Subnet}\",\"gateway\":\"{Gateway}\"}}]],\"dataDir\":\"{Dir}/ipam\"}}";
        string bridge = $"{{\"type\":\"bridge\",\"bridge\":\"{Ns.Id}b\",\"isGateway\":true,\"ipMasq\":false,\"hairpinMode\":true,\"ipam\":{ipam}}}";
        File.WriteAllText(Path.Combine(Dir, "net.d", "ppnet.conflist"), $"{{\"cniVersion\":\"1.0.0\",\"name\":\"ppnet\",\"plugins\":[{bridge},{third}]}}\n");

        string rootfs = Path.Combine(Dir, "rootfs");
        Directory.CreateDirectory(Path.Combine(rootfs, "bin"));
        Directory.CreateDirectory(Path.Combine(rootfs, "www"));
        File.Copy("/bin/busybox", Path.Combine(rootfs, "bin", "busybox"));
        Shell.Sh($"chroot {rootfs} /bin/busybox --install -s /bin");
        File.WriteAllText(Path.Combine(rootfs, "www", "index.html"), "hello-from-container\n");
        (int code, _, string err) = Shell.Run("/bin/sh", ["-c", $"tar -C {rootfs} -c . | nsenter --net=/run/netns/{Ns.Host} podman --tmpdir {Dir}/tmp import - {Image}"], Environment, timeoutMs: 120_000);
        Assert.True(code == 0, $"podman import: {err}");
    }
}
