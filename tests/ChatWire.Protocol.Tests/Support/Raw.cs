using System.Buffers.Binary;
using System.Text;

namespace ChatWire.Protocol.Tests.Support;

/// <summary>Hand-rolled MessagePack pieces for building bodies byte by byte, independently of the codec.</summary>
internal static class Raw
{
    public static readonly byte[] Nil = [0xc0];

    public static byte[] Array(params byte[][] elements) => [.. ArrayHeader(elements.Length), .. elements.SelectMany(e => e)];

    public static byte[] ArrayHeader(int count) => count switch
    {
        < 16 => [(byte)(0x90 | count)],
        <= 0xffff => [0xdc, (byte)(count >> 8), (byte)count],
        _ => [0xdd, .. BigEndian((uint)count)],
    };

    public static byte[] UInt(ulong value) => value switch
    {
        <= 0x7f => [(byte)value],
        <= 0xff => [0xcc, (byte)value],
        <= 0xffff => [0xcd, (byte)(value >> 8), (byte)value],
        <= 0xffff_ffff => [0xce, .. BigEndian((uint)value)],
        _ => [0xcf, .. BigEndian((uint)(value >> 32)), .. BigEndian((uint)value)],
    };

    public static byte[] Str(string value) => StrBytes(Encoding.UTF8.GetBytes(value));

    public static byte[] StrBytes(byte[] utf8) => utf8.Length switch
    {
        < 32 => [(byte)(0xa0 | utf8.Length), .. utf8],
        <= 0xff => [0xd9, (byte)utf8.Length, .. utf8],
        <= 0xffff => [0xda, (byte)(utf8.Length >> 8), (byte)utf8.Length, .. utf8],
        _ => [0xdb, .. BigEndian((uint)utf8.Length), .. utf8],
    };

    public static byte[] Bin(byte[] data) => data.Length switch
    {
        <= 0xff => [0xc4, (byte)data.Length, .. data],
        <= 0xffff => [0xc5, (byte)(data.Length >> 8), (byte)data.Length, .. data],
        _ => [0xc6, .. BigEndian((uint)data.Length), .. data],
    };

    public static byte[] Id(Guid id) => Bin(id.ToByteArray(bigEndian: true));

    /// <summary><paramref name="levels"/> nested one-element arrays around a 0: the 0 lies that many levels below the outermost.</summary>
    public static byte[] NestedArrays(int levels) => [.. Enumerable.Repeat((byte)0x91, levels), 0x00];

    /// <summary><paramref name="levels"/> nested one-entry maps <c>{0: {0: … 0}}</c>.</summary>
    public static byte[] NestedMaps(int levels) => [.. Enumerable.Range(0, levels).SelectMany(_ => new byte[] { 0x81, 0x00 }), 0x00];

    public static byte[] Frame(byte[] body) => [.. BigEndian((uint)body.Length), .. body];

    public static byte[] BigEndian(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }
}
