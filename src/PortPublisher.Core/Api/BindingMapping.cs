using System.Net;
using PortPublisher.Core.Allocation;
using PortPublisher.Core.DockerPort;
using PortPublisher.Core.Publications;
using PortPublisher.Core.Specs;

namespace PortPublisher.Core.Api;

/// <summary>Conversions between API bindings and the allocation model.</summary>
public static class BindingMapping
{
    public static BindingDto ToDto(this HostBinding b, Carrier? carrier = null)
    {
        ArgumentNullException.ThrowIfNull(b);
        return new BindingDto(GoNet.FormatIP(b.HostIp), b.HostPort, b.Protocol.ToName(), b.ContainerPort, carrier);
    }

    public static HostBinding ToBinding(this BindingDto dto)
    {
        ArgumentNullException.ThrowIfNull(dto);
        if (!ProtocolNames.TryParse(dto.Protocol, out Protocol protocol))
        {
            throw new FormatException($"unknown protocol '{dto.Protocol}'");
        }

        return new HostBinding(IPAddress.Parse(dto.HostIp), dto.HostPort, protocol, dto.ContainerPort);
    }

    /// <summary>NetworkSettings.Ports for <c>docker port</c> formatting.</summary>
    public static IReadOnlyList<KeyValuePair<string, IReadOnlyList<PortBindingView>?>> ToPortMap(this PublicationDto publication)
    {
        ArgumentNullException.ThrowIfNull(publication);
        return DockerPortFormatter.ToPortMap(publication.Bindings.Select(ToBinding));
    }
}
