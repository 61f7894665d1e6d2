namespace PortPublisher.Cni.Spec;

/// <summary>
/// Error codes of the CNI result's <c>code</c>: 1–99 as the spec and libcni (<c>pkg/types/types.go</c>) spell them;
/// 100 and up are the plugin's own.
/// </summary>
internal static class CniErrorCode
{
    public const int ErrIncompatibleCNIVersion = 1;
    public const int ErrUnsupportedField = 2;
    public const int ErrUnknownContainer = 3;
    public const int ErrInvalidEnvironmentVariables = 4;
    public const int ErrIOFailure = 5;
    public const int ErrDecodingFailure = 6;
    public const int ErrInvalidNetworkConfig = 7;
    public const int ErrInvalidNetNS = 8;
    public const int ErrTryAgainLater = 11;
    public const int ErrPluginNotAvailable = 50;
    public const int ErrLimitedConnectivity = 51;
    public const int ErrInternal = 999;

    /// <summary>A host port another attachment or publication holds (Docker's <c>port is already allocated</c>).</summary>
    public const int ErrPortAllocated = 100;

    /// <summary>portpublisherd refused or failed the request; its message is the error's.</summary>
    public const int ErrServiceFailed = 101;

    /// <summary>The kernel refused the nftables transaction (direct mode).</summary>
    public const int ErrNftables = 102;

    /// <summary>The direct mode's state directory could not be read or written.</summary>
    public const int ErrState = 103;

    /// <summary>CHECK: an element, the table or the attachment itself is not as ADD left it.</summary>
    public const int ErrCheckFailed = 104;
}
