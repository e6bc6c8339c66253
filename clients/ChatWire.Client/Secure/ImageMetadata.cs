using System.Buffers.Binary;

namespace ChatWire.Client.Secure;

/// <summary>
/// Removes metadata from images before they are encrypted and sent (E2E.md §6: the client strips EXIF and
/// location). JPEG: every APPn segment (EXIF, XMP, IPTC, ICC, thumbnails) and COM; PNG: the text chunks
/// (<c>tEXt</c>, <c>zTXt</c>, <c>iTXt</c>), <c>eXIf</c> and <c>tIME</c>. Anything else passes unchanged.
/// </summary>
public static class ImageMetadata
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private static readonly HashSet<string> PngDroppedChunks = ["tEXt", "zTXt", "iTXt", "eXIf", "tIME"];

    /// <summary>The MIME type of a JPEG or PNG by its magic bytes; <see langword="null"/> for anything else.</summary>
    /// <param name="data">The file's bytes.</param>
    public static string? SniffImageType(ReadOnlySpan<byte> data) =>
        data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF ? "image/jpeg"
        : data.StartsWith(PngSignature) ? "image/png"
        : null;

    /// <summary>
    /// The image without its metadata; the input unchanged when it is not a JPEG or PNG. A malformed image
    /// (a segment or chunk running past the end) throws rather than passing metadata through.
    /// </summary>
    /// <param name="data">The file's bytes.</param>
    /// <exception cref="InvalidDataException">The JPEG or PNG structure is broken.</exception>
    public static byte[] Strip(ReadOnlySpan<byte> data) => SniffImageType(data) switch
    {
        "image/jpeg" => StripJpeg(data),
        "image/png" => StripPng(data),
        _ => data.ToArray(),
    };

    private static byte[] StripJpeg(ReadOnlySpan<byte> data)
    {
        using var output = new MemoryStream(data.Length);
        output.Write(data[..2]);
        var position = 2;
        while (position < data.Length)
        {
            if (data[position] != 0xFF)
            {
                throw new InvalidDataException($"JPEG: expected a marker at byte {position}.");
            }

            var marker = data[position + 1 < data.Length ? position + 1 : throw new InvalidDataException("JPEG: truncated marker.")];
            if (marker == 0xFF)
            {
                // Fill byte before a marker.
                position++;
                continue;
            }

            // Standalone markers carry no length: TEM, RSTn, EOI.
            if (marker is 0x01 or (>= 0xD0 and <= 0xD7) or 0xD9)
            {
                output.Write(data.Slice(position, 2));
                position += 2;
                if (marker == 0xD9)
                {
                    break;
                }

                continue;
            }

            if (position + 4 > data.Length)
            {
                throw new InvalidDataException("JPEG: truncated segment header.");
            }

            var length = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(position + 2, 2));
            var end = position + 2 + length;
            if (length < 2 || end > data.Length)
            {
                throw new InvalidDataException("JPEG: a segment runs past the end of the file.");
            }

            var isMetadata = marker is (>= 0xE0 and <= 0xEF) or 0xFE;
            if (marker == 0xDA)
            {
                // Start of scan: the entropy-coded data and everything after it is image data.
                output.Write(data[position..]);
                break;
            }

            if (!isMetadata)
            {
                output.Write(data[position..end]);
            }

            position = end;
        }

        return output.ToArray();
    }

    private static byte[] StripPng(ReadOnlySpan<byte> data)
    {
        using var output = new MemoryStream(data.Length);
        output.Write(PngSignature);
        var position = PngSignature.Length;
        while (position < data.Length)
        {
            if (position + 12 > data.Length)
            {
                throw new InvalidDataException("PNG: truncated chunk header.");
            }

            var length = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(position, 4));
            if (length > int.MaxValue || position + 12 + (long)length > data.Length)
            {
                throw new InvalidDataException("PNG: a chunk runs past the end of the file.");
            }

            var type = System.Text.Encoding.ASCII.GetString(data.Slice(position + 4, 4));
            var end = position + 12 + (int)length;
            if (!PngDroppedChunks.Contains(type))
            {
                output.Write(data[position..end]);
            }

            position = end;
            if (type == "IEND")
            {
                break;
            }
        }

        return output.ToArray();
    }
}
