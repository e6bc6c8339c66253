using System.Text;
using ChatWire.Client.Secure;
using ChatWire.Client.Tests.Infrastructure;

namespace ChatWire.Client.Tests;

public sealed class ImageMetadataTests
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    [Fact]
    public void Strip_JpegWithExifAndComment_KeepsOnlyImageSegments()
    {
        var quantTable = TestImages.Segment(0xDB, [0, 1, 2, 3]);
        var scan = new byte[] { 0xFF, 0xDA, 0x00, 0x04, 0x01, 0x02, 0x11, 0x22, 0xFF, 0x00, 0x33, 0xFF, 0xD9 };
        byte[] jpeg = [0xFF, 0xD8, .. TestImages.Segment(0xE0, "JFIF\0"u8), .. TestImages.Segment(0xE1, "Exif\0\0GPS 52.1N"u8), .. quantTable, .. TestImages.Segment(0xFE, "secret comment"u8), .. scan];

        var stripped = ImageMetadata.Strip(jpeg);

        Assert.Equal([0xFF, 0xD8, .. quantTable, .. scan], stripped);
        Assert.Equal("image/jpeg", ImageMetadata.SniffImageType(stripped));
    }

    [Fact]
    public void Strip_PngWithTextAndExif_DropsThoseChunks()
    {
        var header = TestImages.Chunk("IHDR", new byte[13]);
        var data = TestImages.Chunk("IDAT", [1, 2, 3]);
        var end = TestImages.Chunk("IEND", []);
        byte[] png = [.. PngSignature, .. header, .. TestImages.Chunk("tEXt", "Author\0me"u8.ToArray()), .. TestImages.Chunk("eXIf", [9, 9]), .. data, .. TestImages.Chunk("iTXt", [7]), .. end];

        var stripped = ImageMetadata.Strip(png);

        Assert.Equal([.. PngSignature, .. header, .. data, .. end], stripped);
    }

    [Fact]
    public void Strip_NotAnImage_ReturnsTheSameBytes()
    {
        var text = Encoding.UTF8.GetBytes("just a text file");

        Assert.Equal(text, ImageMetadata.Strip(text));
        Assert.Null(ImageMetadata.SniffImageType(text));
    }

    [Fact]
    public void Strip_JpegSegmentPastTheEnd_Throws()
    {
        byte[] jpeg = [0xFF, 0xD8, 0xFF, 0xE1, 0x10, 0x00, 0x01];

        Assert.Throws<InvalidDataException>(() => ImageMetadata.Strip(jpeg));
    }
}
