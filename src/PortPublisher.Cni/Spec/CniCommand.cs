namespace PortPublisher.Cni.Spec;

/// <summary>The verbs of CNI_COMMAND (CNI spec 1.1.0).</summary>
internal enum CniCommand
{
    Add,
    Del,
    Check,
    Version,
    Status,
    Gc,
}
