using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace ChatWire.Crypto.Tests.ChatWireVectors;

/// <summary>
/// The vector generator's own byte writer, written from the contract (big-endian integers, ids as the 16 bytes of
/// their string form) and deliberately not the library's: the vectors are a second implementation the library is
/// checked against, not a snapshot of its output.
/// </summary>
internal sealed class SpecBytes
{
    private readonly List<byte> _bytes = [];

    public static SpecBytes Of(string asciiLabel) => new SpecBytes().Ascii(asciiLabel);

    public SpecBytes Ascii(string text)
    {
        _bytes.AddRange(Encoding.ASCII.GetBytes(text));
        return this;
    }

    public SpecBytes Raw(ReadOnlySpan<byte> bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    public SpecBytes U8(int value)
    {
        _bytes.Add(checked((byte)value));
        return this;
    }

    public SpecBytes U16(int value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(b, checked((ushort)value));
        return Raw(b);
    }

    public SpecBytes U32(uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        return Raw(b);
    }

    public SpecBytes U64(ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, value);
        return Raw(b);
    }

    public SpecBytes Id(Guid id) => Raw(IdBytes(id));

    public byte[] ToArray() => [.. _bytes];

    /// <summary>RFC 9562 byte order: the bytes of the string form, in order.</summary>
    public static byte[] IdBytes(Guid id) => Convert.FromHexString(id.ToString("N"));
}

/// <summary>The fixed keys, ids and times every vector is made from; a key is SHA-256 of its name, so anyone can remake it.</summary>
internal static class Fixed
{
    public const long CreatedAtMs = 1767225600000; // 2026-01-01T00:00:00Z
    public const ulong Epoch = 3;

    public static readonly Guid Alice = Guid.Parse("01936f3c-0000-7000-8000-00000000a11c");
    public static readonly Guid AlicePhone = Guid.Parse("01936f3c-0001-7000-8000-00000000a001");
    public static readonly Guid AliceLaptop = Guid.Parse("01936f3c-0002-7000-8000-00000000a002");
    public static readonly Guid AliceTablet = Guid.Parse("01936f3c-0003-7000-8000-00000000a003");
    public static readonly Guid Bob = Guid.Parse("01936f3c-0000-7000-8000-000000000b0b");
    public static readonly Guid BobPhone = Guid.Parse("01936f3c-0004-7000-8000-00000000b001");
    public static readonly Guid Conversation = Guid.Parse("01936f3d-0000-7000-8000-0000000c0001");
    public static readonly Guid OtherConversation = Guid.Parse("01936f3d-0000-7000-8000-0000000c0002");
    public static readonly Guid ChainId = Guid.Parse("5f1d2c3b-4a59-4687-9a1b-2c3d4e5f6071");
    public static readonly Guid FileId = Guid.Parse("01936f3e-0000-7000-8000-00000000f11e");

    /// <summary>32 bytes: SHA-256("ChatWire test vector " || name). Used as X25519 private keys, Ed25519 seeds and CK_0.</summary>
    public static byte[] Secret(string name) => SHA256.HashData(Encoding.ASCII.GetBytes("ChatWire test vector " + name));

    /// <summary>An id made for one message: UUIDv7-shaped, its last 12 hex digits the number.</summary>
    public static Guid MessageId(int n) => Guid.Parse($"01936f3f-0000-7000-8000-{n:x12}");

    /// <summary>A low-order X25519 point (order 8; Wycheproof x25519 LowOrderPublic): any agreement with it is all-zero.</summary>
    public static byte[] LowOrderPoint() => Convert.FromHexString("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
}
