namespace PortPublisher.Netlink.Route;

/// <summary>
/// One interface as RTM_NEWLINK describes it: index, name, MAC (empty for none), master's index (0: none), up or not, and
/// its alias (<c>ip link set dev X alias TEXT</c>; null for none).
/// </summary>
public sealed record LinkInfo(int Index, string Name, string Mac, int MasterIndex, bool Up, string? Alias = null);
