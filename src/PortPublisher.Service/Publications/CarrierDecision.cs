using System.Net;
using PortPublisher.Core.Publications;

namespace PortPublisher.Service.Publications;

/// <summary>What <see cref="CarrierPolicy"/> decided for one binding: a carrier and where it sends, a skip, or a refusal.</summary>
internal readonly record struct CarrierDecision(Carrier Carrier, IPAddress? TargetIp, string? Warning, string? Error)
{
    public static CarrierDecision Use(Carrier carrier, IPAddress targetIp) => new(carrier, targetIp, null, null);

    /// <summary>The binding is left out of the publication; the reply and the log carry the warning.</summary>
    public static CarrierDecision Skip(string warning) => new(default, null, warning, null);

    /// <summary>The whole publish fails with this reason (the caller names the binding).</summary>
    public static CarrierDecision Refuse(string error) => new(default, null, null, error);

    public bool IsSkip => Warning is not null;

    public bool IsRefusal => Error is not null;
}
