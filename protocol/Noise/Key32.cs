using System.Runtime.CompilerServices;

namespace ChatWire.Protocol.Noise;

// 32 bytes stored inline in the owning object: a key, chaining key or hash costs no separate array (and no array
// header) per connection.
[InlineArray(Size)]
internal struct Key32
{
    public const int Size = 32;

    private byte _element0;
}
