namespace PortPublisher.Service.Publications;

/// <summary>What moves a binding's traffic.</summary>
public enum Carrier
{
    /// <summary>nftables DNAT in the kernel.</summary>
    Nat,

    /// <summary>Our userland proxy, dialing from inside the target namespace.</summary>
    Proxy,
}
