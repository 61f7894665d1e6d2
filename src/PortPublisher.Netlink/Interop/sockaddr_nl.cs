using System.Runtime.InteropServices;

namespace PortPublisher.Netlink.Interop;

/// <summary><c>struct sockaddr_nl</c> (12 bytes); Tmds.LibC does not define it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct sockaddr_nl
{
    public ushort nl_family;
    public ushort nl_pad;
    public uint nl_pid;
    public uint nl_groups;
}
