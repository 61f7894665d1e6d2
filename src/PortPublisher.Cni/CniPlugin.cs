using System.Collections;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using PortPublisher.Cni.Direct;
using PortPublisher.Cni.Spec;
using PortPublisher.Cni.Publishing;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Nft;

namespace PortPublisher.Cni;

/// <summary>
/// One invocation: the CNI_* environment and the configuration on stdin in, the result or a CNI error on stdout, logs
/// on stderr, 0 or 1 out. Who carries the bindings: portpublisherd when its socket answers (<c>mode</c> auto or
/// service), else the plugin itself (<see cref="DirectBackend"/>); an attachment the direct mode published stays the
/// direct mode's until its DEL, whoever runs then.
/// </summary>
internal sealed class CniPlugin(TimeProvider time, ILogger logger)
{
    public const string About = "portpublisher-cni: a CNI plugin that publishes runtimeConfig.portMappings through nftables maps (portmap's slot in a chain)";

    private static readonly TimeSpan s_stdinDeadline = TimeSpan.FromSeconds(10);

    /// <summary>Runs one verb; the exit code.</summary>
    public async Task<int> RunAsync(IDictionary environment, Stream stdin, Stream stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(stderr);
        string version = CniVersion.Supported[^1];
        string command = environment["CNI_COMMAND"] as string ?? string.Empty;
        if (command.Length == 0)
        {
            // As skel does for a person running the binary by hand: who we are, not an error.
            await stderr.WriteLineAsync(About);
            await stderr.WriteLineAsync($"CNI protocol versions supported: {string.Join(", ", CniVersion.Supported)}");
            return 0;
        }

        long started = time.GetTimestamp();
        try
        {
            CniEnvironment env = CniEnvironment.Parse(environment);
            byte[] input = await ReadAllAsync(stdin, cancellationToken);
            if (TryReadVersion(input) is string asked && CniVersion.IsSupported(asked))
            {
                version = asked; // an error result speaks the configuration's version
            }

            if (env.Command == CniCommand.Version)
            {
                // VERSION ignores the rest of stdin; its cniVersion, when one we speak, is echoed.
                CniOutput.Version(stdout, version);
                return 0;
            }

            NetConf conf = NetConf.Parse(input);
            version = conf.CniVersion;
            foreach (string what in conf.Ignored)
            {
                CniLog.Ignored(logger, what);
            }

            if (env.Command is CniCommand.Gc or CniCommand.Status && !CniVersion.AtLeast(conf.CniVersion, "1.1.0"))
            {
                throw new CniException(CniErrorCode.ErrIncompatibleCNIVersion, $"{command} needs a configuration of cniVersion 1.1.0 or later, not {conf.CniVersion}");
            }

            await DispatchAsync(env, conf, stdout, started, cancellationToken);
            return 0;
        }
        catch (CniException e)
        {
            CniLog.Failed(logger, command, e.Code, e.Message);
            CniOutput.Error(stdout, version, e);
            return 1;
        }
        catch (Exception e) when (e is NetlinkException or NetlinkProtocolException or IOException or UnauthorizedAccessException)
        {
            var error = new CniException(CniErrorCode.ErrInternal, e.Message);
            CniLog.Failed(logger, command, error.Code, error.Message);
            CniOutput.Error(stdout, version, error);
            return 1;
        }
    }

    private async Task DispatchAsync(CniEnvironment env, NetConf conf, Stream stdout, long started, CancellationToken ct)
    {
        var direct = new DirectBackend(conf, time, logger);
        switch (env.Command)
        {
            case CniCommand.Add:
            {
                if (conf.PrevResultJson is null)
                {
                    throw new CniException(CniErrorCode.ErrInvalidNetworkConfig, "must be called as chained plugin: ADD needs prevResult (the bridge's and IPAM's result)");
                }

                CheckNetns(env, required: true);
                BindingPlan plan = BindingPlan.Make(conf.PortMappings, conf.PrevResult, env.IfName);
                foreach (string skipped in plan.Skipped)
                {
                    CniLog.Skipped(logger, skipped);
                }

                if (conf.PortMappings.Count > 0)
                {
                    IPortBackend backend = await AddAsync(env, conf, plan, direct, ct);
                    Done("ADD", env, conf, backend, plan.Bindings, started);
                }

                CniOutput.Raw(stdout, conf.PrevResultJson);
                break;
            }

            case CniCommand.Del:
            {
                CheckNetns(env, required: false);
                bool byDirect = await direct.DelAsync(env.Attachment, ct);
                ServiceBackend? service = await ServiceIfRunningAsync(conf, required: false, forDel: env.Attachment, ct);
                bool byService = service is not null && await service.DelAsync(env.Attachment, ct);
                if (byDirect || byService)
                {
                    string by = byDirect && byService ? $"{direct.Name} and {service!.Name}" : byDirect ? direct.Name : service!.Name;
                    CniLog.Deleted(logger, env.Attachment.ToString(), conf.Name, by, Math.Round(time.GetElapsedTime(started).TotalMilliseconds, 1));
                }

                break;
            }

            case CniCommand.Check:
            {
                if (conf.PrevResultJson is null)
                {
                    throw new CniException(CniErrorCode.ErrInvalidNetworkConfig, "CHECK needs prevResult (the result of the attachment's ADD)");
                }

                CheckNetns(env, required: true);
                BindingPlan plan = BindingPlan.Make(conf.PortMappings, conf.PrevResult, env.IfName);
                IPortBackend? owner = await direct.HasAsync(env.Attachment, ct) ? direct : null;
                ServiceBackend? service = owner is null ? await ServiceIfRunningAsync(conf, required: false, forDel: null, ct) : null;
                if (service is not null && await service.HasAsync(env.Attachment, ct))
                {
                    owner = service;
                }

                if (owner is null)
                {
                    if (plan.Bindings.Count > 0)
                    {
                        // With the service down it may still be the service's (its elements stay in the kernel): say so.
                        throw new CniException(CniErrorCode.ErrCheckFailed, service is null && conf.Mode != PluginMode.Direct
                            ? $"attachment {env.Attachment} has no port mappings published by the direct mode, and portpublisherd at {conf.Socket} is not running to say whether it carries them; CHECK again once it runs"
                            : $"attachment {env.Attachment} has no port mappings published, by portpublisherd or the direct mode");
                    }

                    break;
                }

                await owner.CheckAsync(env.Attachment, plan.Bindings, conf.Snat, ct);
                break;
            }

            case CniCommand.Gc:
            {
                IReadOnlyList<Attachment> valid = conf.ValidAttachments
                    ?? throw new CniException(CniErrorCode.ErrInvalidNetworkConfig, "GC needs cni.dev/valid-attachments (the attachments that stay)");
                int removed = await direct.GcAsync(conf.Name, valid, ct);
                CniLog.Collected(logger, conf.Name, removed, direct.Name);
                if (await ServiceIfRunningAsync(conf, required: false, forDel: null, ct) is { } service)
                {
                    removed = await service.GcAsync(conf.Name, valid, ct);
                    CniLog.Collected(logger, conf.Name, removed, service.Name);
                }

                break;
            }

            case CniCommand.Status:
            {
                IPortBackend backend = await ServiceIfRunningAsync(conf, required: conf.Mode == PluginMode.Service, forDel: null, ct) as IPortBackend ?? direct;
                await backend.StatusAsync(ct);
                break;
            }
        }
    }

    /// <summary>
    /// ADD through the service when it runs (refusing ports the direct mode's attachments hold, and moving this
    /// attachment out of the direct mode if it was there), else directly.
    /// </summary>
    private async Task<IPortBackend> AddAsync(CniEnvironment env, NetConf conf, BindingPlan plan, DirectBackend direct, CancellationToken ct)
    {
        var request = new AddRequest(env.Attachment, conf.Name, env.Netns, plan, conf.Snat);
        ServiceBackend? service = await ServiceIfRunningAsync(conf, required: conf.Mode == PluginMode.Service, forDel: null, ct);
        if (service is null)
        {
            await direct.AddAsync(request, ct);
            return direct;
        }

        PortConflicts.ThrowIfTaken(plan.Bindings, await direct.HeldAsync(env.Attachment, ct), "an attachment of portpublisher-cni's direct mode");
        await service.AddAsync(request, ct);
        await direct.DelAsync(env.Attachment, ct);
        return service;
    }

    private async Task<ServiceBackend?> ServiceIfRunningAsync(NetConf conf, bool required, Attachment? forDel, CancellationToken ct)
    {
        if (conf.Mode == PluginMode.Direct)
        {
            return null;
        }

        string? absent = await ServiceClient.ProbeAsync(conf.Socket, conf.Timeout, ct);
        if (absent is null)
        {
            return new ServiceBackend(conf, new ServiceClient(conf.Socket, conf.Timeout));
        }

        if (required)
        {
            throw new CniException(CniErrorCode.ErrPluginNotAvailable, $"portpublisherd at {conf.Socket} is not running ({absent}), and mode is service");
        }

        if (forDel is not null)
        {
            CniLog.DelServiceAbsent(logger, forDel.ToString(), conf.Socket, absent);
        }
        else
        {
            CniLog.ServiceAbsent(logger, conf.Socket, absent);
        }

        return null;
    }

    /// <summary>As skel: CNI_NETNS must not be the plugin's own namespace (8) unless CNI_NETNS_OVERRIDE=1.</summary>
    private static void CheckNetns(CniEnvironment env, bool required)
    {
        if (env.Netns.Length == 0 || env.NetnsOverride)
        {
            return;
        }

        try
        {
            using NetworkNamespace target = NetworkNamespace.Open(env.Netns);
            using NetworkNamespace own = NetworkNamespace.Open("/proc/self/ns/net");
            if (target.Identity == own.Identity)
            {
                throw new CniException(CniErrorCode.ErrInvalidNetNS, $"CNI_NETNS {env.Netns} is the plugin's own network namespace, not a container's", "set CNI_NETNS_OVERRIDE=1 if that is meant");
            }
        }
        catch (NetworkNamespaceNotFoundException e)
        {
            if (required)
            {
                throw new CniException(CniErrorCode.ErrInvalidNetNS, $"failed to open netns \"{env.Netns}\": {e.Message}");
            }
        }
    }

    private void Done(string verb, CniEnvironment env, NetConf conf, IPortBackend backend, IReadOnlyList<NatBinding> bindings, long started)
    {
        string summary = bindings.Count == 0 ? string.Empty : ": " + string.Join(", ", bindings.Take(8).Select(b => b.ToString())) + (bindings.Count > 8 ? ", …" : string.Empty);
        CniLog.Done(logger, verb, env.Attachment.ToString(), conf.Name, backend.Name, bindings.Count, Math.Round(time.GetElapsedTime(started).TotalMilliseconds, 1), summary);
    }

    private static async Task<byte[]> ReadAllAsync(Stream stdin, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(s_stdinDeadline);
        using var buffer = new MemoryStream();
        try
        {
            await stdin.CopyToAsync(buffer, cts.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new CniException(CniErrorCode.ErrIOFailure, $"stdin was not closed within {s_stdinDeadline.TotalSeconds:0} s: the runtime must write the network configuration and close it");
        }

        return buffer.ToArray();
    }

    private static string? TryReadVersion(byte[] input)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(input);
            return doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object
                && doc.RootElement.TryGetProperty("cniVersion", out System.Text.Json.JsonElement v)
                && v.ValueKind == System.Text.Json.JsonValueKind.String ? v.GetString() : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
