using PortPublisher.Cni.Spec;
using PortPublisher.Netlink.Nft;

namespace PortPublisher.Cni.Publishing;

/// <summary>Who carries an attachment's bindings: portpublisherd (<see cref="ServiceBackend"/>) or the plugin itself (<see cref="Direct.DirectBackend"/>).</summary>
internal interface IPortBackend
{
    /// <summary><c>service</c> or <c>direct</c>, for logs.</summary>
    string Name { get; }

    /// <summary>Publishes; an attachment published before is replaced. Changes nothing on failure.</summary>
    /// <exception cref="CniException">The CNI error to report.</exception>
    Task AddAsync(AddRequest request, CancellationToken cancellationToken);

    /// <summary>Removes the attachment's bindings; true when it had any here.</summary>
    Task<bool> DelAsync(Attachment attachment, CancellationToken cancellationToken);

    /// <summary>True when this backend carries the attachment.</summary>
    Task<bool> HasAsync(Attachment attachment, CancellationToken cancellationToken);

    /// <summary>Fails (104) unless exactly <paramref name="expected"/> are published for the attachment and in the kernel.</summary>
    Task CheckAsync(Attachment attachment, IReadOnlyList<NatBinding> expected, bool snat, CancellationToken cancellationToken);

    /// <summary>Removes every attachment of <paramref name="network"/> not in <paramref name="valid"/>; returns how many.</summary>
    Task<int> GcAsync(string network, IReadOnlyCollection<Attachment> valid, CancellationToken cancellationToken);

    /// <summary>Fails (50) when ADD could not work now.</summary>
    Task StatusAsync(CancellationToken cancellationToken);

    /// <summary>The bindings this backend holds for anyone but <paramref name="except"/>, to refuse ports across modes.</summary>
    Task<IReadOnlyList<NatBinding>> HeldAsync(Attachment? except, CancellationToken cancellationToken);
}
