using System.Text.Json.Serialization;
using PortPublisher.Core.Api;

namespace PortPublisher.Core.Sandboxes;

/// <summary>A sandbox as the API shows it (<c>sandbox inspect</c>); what does not apply to its mode is null.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Id">64 hex characters.</param>
/// <param name="Network">bridge, none, host or container:OTHER.</param>
/// <param name="Hostname">What <c>hostname</c> prints inside.</param>
/// <param name="Netns">/run/netns/NAME (null for host).</param>
/// <param name="UtsNamespace">The pinned UTS namespace <c>exec</c> enters (null for host).</param>
/// <param name="EtcDir">/etc/netns/NAME, bind-mounted over /etc entries by <c>exec</c> and <c>ip netns exec</c> (null for host).</param>
/// <param name="Ip">eth0's address (bridge, and container:OTHER of a bridge sandbox).</param>
/// <param name="Subnet">The bridge's subnet, as CIDR.</param>
/// <param name="Gateway">The bridge's address: the default route.</param>
/// <param name="Bridge">The bridge's name.</param>
/// <param name="Veth">The host end of the veth pair.</param>
/// <param name="Mac">eth0's MAC.</param>
/// <param name="Publication">The ports its <c>-p</c> published.</param>
/// <param name="Warnings">What was discarded, with Docker's words.</param>
/// <param name="Phase">Null when whole; "creating" or "removing" while a change is under way (and, after a crash, until
/// the restarted service has finished undoing or removing it).</param>
/// <param name="NetnsId">The namespace's identity (nsfs device:inode), so that a file of the same name made later by
/// another tool is never taken for it.</param>
public sealed record SandboxDto(
    string Name,
    string Id,
    string Network,
    string Hostname,
    string? Netns,
    string? UtsNamespace,
    string? EtcDir,
    string? Ip = null,
    string? Subnet = null,
    string? Gateway = null,
    string? Bridge = null,
    string? Veth = null,
    string? Mac = null,
    PublicationDto? Publication = null,
    IReadOnlyList<string>? Warnings = null,
    string? Phase = null,
    string? NetnsId = null)
{
    public const string Creating = "creating";
    public const string Removing = "removing";

    /// <summary>Whether it joins another's namespace (<c>--network container:OTHER</c>).</summary>
    [JsonIgnore]
    public bool Joins => Network.StartsWith(NetworkMode.ContainerPrefix, StringComparison.Ordinal);
}
