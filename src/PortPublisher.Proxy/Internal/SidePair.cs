using System.Runtime.CompilerServices;

namespace PortPublisher.Proxy.Internal;

/// <summary>
/// A value for each side of a proxied connection (index 0 the client, 1 the target), stored inline in the connection:
/// five arrays of two were five more objects per connection for the GC, and 32 bytes of header each.
/// </summary>
[InlineArray(2)]
internal struct SidePair<T>
{
    private T _element;
}
