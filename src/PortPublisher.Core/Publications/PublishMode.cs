using System.Text.Json.Serialization;

namespace PortPublisher.Core.Publications;

/// <summary>How a publication's bindings may be carried; on the wire <c>auto</c>, <c>nat</c> or <c>proxy</c>.</summary>
[JsonConverter(typeof(PublishModeJsonConverter))]
public enum PublishMode
{
    /// <summary>NAT where the host can route to the target and the families match, else the userland proxy.</summary>
    Auto,

    /// <summary>NAT only, as Docker with <c>userland-proxy=false</c>.</summary>
    Nat,

    /// <summary>The userland proxy only (SCTP excepted, which only NAT carries).</summary>
    Proxy,
}
