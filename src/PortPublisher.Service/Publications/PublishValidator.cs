using System.Net;
using PortPublisher.Core.Api;
using PortPublisher.Core.Publications;
using PortPublisher.Core.Specs;

namespace PortPublisher.Service.Publications;

/// <summary>
/// Checks a publish request before it reaches the writer: a bad request is answered at once, queues nothing and
/// changes nothing. Every spec is parsed, and every bad one is named.
/// </summary>
internal static class PublishValidator
{
    /// <exception cref="PublishException">400, naming each bad field.</exception>
    public static ValidatedPublish Validate(PublishRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new List<string>();
        string? name = PublicationName.Normalize(request.Name ?? string.Empty, out string? nameError);
        if (name is null)
        {
            errors.Add(nameError!);
        }

        string netns = request.Netns ?? string.Empty;
        if (netns.Length == 0)
        {
            errors.Add("a target namespace is required (--netns NAME, a path, container:NAME or host)");
        }
        else if (netns.Contains('\0', StringComparison.Ordinal))
        {
            errors.Add("invalid netns: it contains a NUL character");
        }
        else if (netns.Contains('/', StringComparison.Ordinal) && !netns.StartsWith('/') && !netns.StartsWith("container:", StringComparison.Ordinal))
        {
            // A relative path would be resolved against the service's working directory, not the caller's.
            errors.Add($"invalid netns \"{netns}\": a path must be absolute (/run/netns/NAME, /proc/PID/ns/net); a name has no '/'");
        }

        var mappings = new List<PortMapping>();
        IReadOnlyList<string> specs = request.Specs ?? [];
        if (specs.Count == 0)
        {
            errors.Add("specs: at least one -p value is required");
        }

        foreach (string? spec in specs)
        {
            if (spec is null)
            {
                errors.Add("invalid -p: null");
                continue;
            }

            try
            {
                mappings.AddRange(PortSpecParser.Parse(spec));
            }
            catch (PortSpecException e)
            {
                errors.Add($"invalid -p {GoNet.Quote(e.Spec)}: {e.Message}");
            }
        }

        var targets = new List<IPAddress>();
        if (request.TargetIps is { Count: > 2 } many)
        {
            errors.Add($"targetIps: {many.Count} addresses; at most two, one IPv4 and one IPv6");
        }
        else
        {
            if (request.TargetIps?.Contains(null!) == true)
            {
                errors.Add("invalid targetIps: null");
            }

            // Go's net.ParseIP, as for -p's host address: no octal or hex IPv4 forms, no zone.
            foreach (string? given in (string?[])[request.TargetIp, .. request.TargetIps ?? []])
            {
                if (given is null)
                {
                    continue;
                }

                if (!GoNet.TryParseIP(given, out IPAddress? targetIp) || targetIp is null)
                {
                    errors.Add($"invalid target address {GoNet.Quote(given)}");
                }
                else if (targets.Find(t => t.AddressFamily == targetIp.AddressFamily) is { } same)
                {
                    if (!same.Equals(targetIp))
                    {
                        errors.Add($"two target addresses of one family: {same} and {targetIp} (at most one IPv4 and one IPv6 address)");
                    }
                }
                else if (targetIp.IsIPv6LinkLocal)
                {
                    errors.Add($"invalid target address {targetIp}: link-local, so neither NAT nor the proxy can reach it by address alone");
                }
                else
                {
                    targets.Add(targetIp);
                }
            }
        }

        if (request.Mode is { } mode && !Enum.IsDefined(mode))
        {
            errors.Add($"invalid mode {(int)mode}: use auto, nat or proxy");
        }

        if (request.Cni is { } cni)
        {
            if (string.IsNullOrEmpty(cni.ContainerId) || string.IsNullOrEmpty(cni.IfName))
            {
                errors.Add("cni: containerId and ifName are required");
            }

            // The runtime holds a CNI attachment's host ports, so no listener of ours could take them.
            if (request.Mode is PublishMode.Proxy or PublishMode.Auto)
            {
                errors.Add($"cni: a CNI attachment is carried by NAT only; mode {PublishModeNames.ToName(request.Mode.Value)} cannot be used");
            }
        }

        if (errors.Count > 0)
        {
            // Every bad part named, but a request of 100,000 bad specs does not get a 100,000-line answer.
            const int Shown = 20;
            string text = string.Join("\n", errors.Take(Shown)) + (errors.Count > Shown ? $"\n… and {errors.Count - Shown} more" : string.Empty);
            throw new PublishException(HttpStatusCode.BadRequest, text) { Step = "validate" };
        }

        return new ValidatedPublish(name!, netns, specs, mappings, request.Cni is null ? request.Mode : PublishMode.Nat, targets, request.DryRun, request.Cni);
    }
}
