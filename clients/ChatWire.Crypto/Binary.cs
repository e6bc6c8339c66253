using System.Buffers;
using System.Buffers.Binary;

namespace ChatWire.Crypto;

/// <summary>Writes the big-endian binary layouts of docs/e2e.md; ids are the 16 bytes of their string form (RFC 9562 order).</summary>
internal sealed class ByteWriter
{
    private readonly ArrayBufferWriter<byte> _buffer;

    public ByteWriter(int initialCapacity = 256)
    {
        _buffer = new ArrayBufferWriter<byte>(initialCapacity);
    }

    public int Length => _buffer.WrittenCount;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    public ByteWriter U8(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
        return this;
    }

    public ByteWriter U16(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_buffer.GetSpan(2), value);
        _buffer.Advance(2);
        return this;
    }

    public ByteWriter U32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
        return this;
    }

    public ByteWriter U64(ulong value)
    {
        BinaryPrimitives.WriteUInt64BigEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
        return this;
    }

    public ByteWriter Id(Guid id)
    {
        if (!id.TryWriteBytes(_buffer.GetSpan(16), bigEndian: true, out var written) || written != 16)
        {
            throw new InvalidOperationException("A Guid is 16 bytes.");
        }

        _buffer.Advance(16);
        return this;
    }

    public ByteWriter Bytes(ReadOnlySpan<byte> bytes)
    {
        _buffer.Write(bytes);
        return this;
    }

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();
}

/// <summary>Reads the layouts <see cref="ByteWriter"/> writes; a short or over-long input is <see cref="CryptoError.Malformed"/>.</summary>
internal ref struct ByteReader
{
    private readonly ReadOnlySpan<byte> _source;
    private int _position;

    public ByteReader(ReadOnlySpan<byte> source)
    {
        _source = source;
        _position = 0;
    }

    public readonly int Position => _position;

    public readonly int Remaining => _source.Length - _position;

    public byte U8() => Take(1)[0];

    public ushort U16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

    public uint U32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

    public ulong U64() => BinaryPrimitives.ReadUInt64BigEndian(Take(8));

    public Guid Id() => new(Take(16), bigEndian: true);

    public ReadOnlySpan<byte> Bytes(int count) => Take(count);

    public readonly void EnsureEnd(string what)
    {
        if (_position != _source.Length)
        {
            throw ChatWireCryptoException.Malformed($"{what} has {_source.Length - _position} trailing bytes.");
        }
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > _source.Length - _position)
        {
            throw ChatWireCryptoException.Malformed("The input ends before its declared length.");
        }

        var slice = _source.Slice(_position, count);
        _position += count;
        return slice;
    }
}
