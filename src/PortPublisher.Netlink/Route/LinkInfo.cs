namespace PortPublisher.Netlink.Route;

/// <summary>One interface as RTM_NEWLINK describes it: index, name, MAC (empty for none), master's index (0: none), up or not.</summary>
public sealed record LinkInfo(int Index, string Name, string Mac, int MasterIndex, bool Up);
