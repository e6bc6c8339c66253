using System.Buffers.Binary;
using System.Text;
using SkiaSharp;

namespace ChatWire.Client.Tests.Infrastructure;

// Real images made by Skia, with metadata a phone or an editor would add injected into the bytes: an EXIF APP1
// segment and a comment (JPEG), tEXt and eXIf chunks (PNG). Every injected block carries Secret, so a test can check
// the bytes that leave the sender hold none of it.
internal static class TestImages
{
    public static readonly byte[] Secret = "GPS 52.3N 4.9E Secret Street"u8.ToArray();

    public static byte[] Jpeg(int width, int height)
    {
        var encoded = Encode(width, height, SKEncodedImageFormat.Jpeg);
        byte[] exif = [.. "Exif\0\0"u8, .. Secret];
        return [0xFF, 0xD8, .. Segment(0xE1, exif), .. Segment(0xFE, Secret), .. encoded.AsSpan(2)];
    }

    public static byte[] Png(int width, int height)
    {
        var encoded = Encode(width, height, SKEncodedImageFormat.Png);
        const int AfterHeader = 8 + 12 + 13;
        return [.. encoded.AsSpan(0, AfterHeader), .. Chunk("tEXt", [.. "Comment\0"u8, .. Secret]), .. Chunk("eXIf", Secret), .. encoded.AsSpan(AfterHeader)];
    }

    public static bool ContainsSecret(ReadOnlySpan<byte> data) => data.IndexOf(Secret) >= 0 || data.IndexOf("Exif\0\0"u8) >= 0 || data.IndexOf("tEXt"u8) >= 0;

    // A picture with detail (gradients and stripes), so that the thumbnail's size is that of a photo, not of a flat colour.
    private static byte[] Encode(int width, int height, SKEncodedImageFormat format)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                bitmap.SetPixel(x, y, new SKColor((byte)(x * 255 / width), (byte)(y * 255 / height), (byte)((x ^ y) * 7)));
            }
        }

        using var data = bitmap.Encode(format, 90);
        return data.ToArray();
    }

    /// <summary>A JPEG marker segment: FF, marker, length, payload.</summary>
    public static byte[] Segment(byte marker, ReadOnlySpan<byte> payload)
    {
        var segment = new byte[4 + payload.Length];
        segment[0] = 0xFF;
        segment[1] = marker;
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(2), (ushort)(payload.Length + 2));
        payload.CopyTo(segment.AsSpan(4));
        return segment;
    }

    // With a correct CRC, so that the decoder reads the chunk as a real one.
    public static byte[] Chunk(string type, byte[] payload)
    {
        var chunk = new byte[12 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(chunk, (uint)payload.Length);
        Encoding.ASCII.GetBytes(type, chunk.AsSpan(4));
        payload.CopyTo(chunk.AsSpan(8));
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + payload.Length), Crc32(chunk.AsSpan(4, 4 + payload.Length)));
        return chunk;
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var i = 0; i < 8; i++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }

        return ~crc;
    }
}
