using System.Buffers.Binary;
using ChatWire.Client.Secure;
using ChatWire.Client.Tests.Infrastructure;
using SkiaSharp;

namespace ChatWire.Client.Tests;

// The restricted decoder on real Skia-made images: dimensions from the header, thumbnails small and clean, and
// images that claim absurd sizes or do not decode refused.
public sealed class ImageDecodingTests
{
    [Fact]
    public void CreateThumbnail_LargeJpegWithExif_FitsTheRulesAndCarriesNoMetadata()
    {
        var jpeg = TestImages.Jpeg(1200, 900);

        var header = ImageDecoding.ReadHeader(jpeg);
        var thumbnail = ImageDecoding.CreateThumbnail(jpeg);

        using var decoded = SKBitmap.Decode(thumbnail);
        Assert.Equal(new ImageHeader("image/jpeg", 1200, 900), header);
        Assert.Equal((320, 240), (decoded.Width, decoded.Height));
        Assert.InRange(thumbnail.Length, 1, ImageDecoding.ThumbnailMaxBytes);
        Assert.Equal("image/jpeg", ImageMetadata.SniffImageType(thumbnail));
        Assert.False(TestImages.ContainsSecret(thumbnail));
        Assert.True(TestImages.ContainsSecret(jpeg));
    }

    [Fact]
    public void CreateThumbnail_TightBudget_ShrinksUntilItFits()
    {
        var png = TestImages.Png(900, 1200);

        var thumbnail = ImageDecoding.CreateThumbnail(png, maxBytes: 4000);

        using var decoded = SKBitmap.Decode(thumbnail);
        Assert.InRange(thumbnail.Length, 1, 4000);
        Assert.True(decoded.Height < 320, $"a {decoded.Width}×{decoded.Height} thumbnail");
    }

    [Fact]
    public void ReadHeader_PngClaiming40000Square_IsRefusedBeforeDecoding()
    {
        var png = TestImages.Png(4, 4);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(16), 40_000);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(20), 40_000);
        FixHeaderCrc(png);

        var ex = Assert.Throws<InvalidImageException>(() => ImageDecoding.ReadHeader(png));

        Assert.Equal("PNG", ex.Format);
        Assert.Contains("40000×40000", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadHeader_PngOver50Megapixels_IsRefused()
    {
        var png = TestImages.Png(4, 4);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(16), 10_000);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(20), 6_000);
        FixHeaderCrc(png);

        var ex = Assert.Throws<InvalidImageException>(() => ImageDecoding.CreateThumbnail(png));

        Assert.Contains("megapixels", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateThumbnail_TruncatedJpeg_IsRefused()
    {
        var jpeg = TestImages.Jpeg(200, 100);

        var ex = Assert.Throws<InvalidImageException>(() => ImageDecoding.CreateThumbnail(jpeg.AsSpan(0, jpeg.Length / 2)));

        Assert.StartsWith("not a valid JPEG image: ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadHeader_GarbageAfterJpegMagic_IsRefused()
    {
        byte[] fake = [0xFF, 0xD8, 0xFF, .. "this is not a picture"u8];

        var ex = Assert.Throws<InvalidImageException>(() => ImageDecoding.ReadHeader(fake));

        Assert.Equal("JPEG", ex.Format);
    }

    // libpng checks IHDR's CRC: an edited header gets a correct one, so the size limit, not the CRC, refuses it.
    private static void FixHeaderCrc(byte[] png)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in png.AsSpan(12, 17))
        {
            crc ^= b;
            for (var i = 0; i < 8; i++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }

        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), ~crc);
    }
}
