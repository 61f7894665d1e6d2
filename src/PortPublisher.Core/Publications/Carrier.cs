using System.Text.Json.Serialization;

namespace PortPublisher.Core.Publications;

/// <summary>What moves a binding's traffic; on the wire <c>nat</c> or <c>proxy</c>.</summary>
[JsonConverter(typeof(CarrierJsonConverter))]
public enum Carrier
{
    /// <summary>nftables DNAT in the kernel.</summary>
    Nat,

    /// <summary>Our userland proxy, dialing from inside the target namespace.</summary>
    Proxy,
}
