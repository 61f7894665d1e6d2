using PortPublisher.Service.Publications;

namespace PortPublisher.Service.Kernel;

/// <summary>An opened target namespace and the addresses in it that traffic goes to.</summary>
internal sealed record ResolvedTarget(ITargetNamespace Namespace, Target Target);
