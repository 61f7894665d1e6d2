using PortPublisher.Cni.Spec;

namespace PortPublisher.Cni.Publishing;

/// <summary>What an ADD publishes: the attachment, its network and namespace, and the planned bindings.</summary>
internal sealed record AddRequest(Attachment Attachment, string Network, string Netns, BindingPlan Plan, bool Snat);
