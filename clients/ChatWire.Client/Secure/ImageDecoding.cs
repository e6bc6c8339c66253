using ChatWire.Crypto;
using SkiaSharp;

namespace ChatWire.Client.Secure;

/// <summary>What an image's header says, read without decoding its pixels.</summary>
/// <param name="MimeType">The media type of the encoding Skia found (<c>image/jpeg</c>, <c>image/png</c>, …).</param>
/// <param name="Width">Width in pixels, as stored (no EXIF orientation applied).</param>
/// <param name="Height">Height in pixels, as stored.</param>
public sealed record ImageHeader(string MimeType, int Width, int Height);

/// <summary>An image that does not decode, or whose header claims more pixels than the decoder accepts.</summary>
public sealed class InvalidImageException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="format">The format the bytes claimed to be ("JPEG", "PNG").</param>
    /// <param name="reason">Why it was refused, for a person.</param>
    /// <param name="innerException">The cause, if any.</param>
    public InvalidImageException(string format, string reason, Exception? innerException = null)
        : base($"not a valid {format} image: {reason}", innerException)
    {
        Format = format;
        Reason = reason;
    }

    /// <summary>Creates the exception with a generic reason.</summary>
    public InvalidImageException()
        : this("image", "it does not decode")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public InvalidImageException(string message)
        : this("image", message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public InvalidImageException(string message, Exception innerException)
        : this("image", message, innerException)
    {
    }

    /// <summary>The format the bytes claimed to be ("JPEG", "PNG").</summary>
    public string Format { get; }

    /// <summary>Why the image was refused.</summary>
    public string Reason { get; }
}

/// <summary>
/// The restricted image decoder (E2E.md §6) used on both sides of an attachment: the sender takes an image's
/// dimensions and a thumbnail from it, the receiver checks a downloaded image is what its descriptor says. Skia
/// reads the header first; an image over <see cref="MaxPixels"/> or with a side over <see cref="MaxSide"/> is refused
/// before any pixel is decoded, so a small file claiming huge dimensions cannot make the client allocate gigabytes.
/// </summary>
public static class ImageDecoding
{
    /// <summary>Images with more pixels than this are refused (50 megapixels).</summary>
    public const long MaxPixels = 50_000_000;

    /// <summary>Images with a side longer than this are refused, whatever their pixel count.</summary>
    public const int MaxSide = 30_000;

    /// <summary>A thumbnail's longest side is at most this many pixels.</summary>
    public const int ThumbnailMaxSide = 320;

    /// <summary>
    /// A thumbnail is at most this many bytes: with the rest of the descriptor and the envelope it stays far below
    /// the server's default maximum content length (64 KiB).
    /// </summary>
    public const int ThumbnailMaxBytes = 24 * 1024;

    // Tried in order until the thumbnail fits its byte budget: lower quality at the same size first, then smaller
    // sides. The last step (80 px, quality 30) of any image is a few KiB.
    private static readonly (int Side, int Quality)[] ThumbnailSteps =
        [(320, 70), (320, 55), (240, 60), (240, 45), (160, 55), (120, 45), (80, 30)];

    /// <summary>Reads an image's type and dimensions from its header, within the limits.</summary>
    /// <param name="data">The file's bytes.</param>
    /// <exception cref="InvalidImageException">Skia does not recognise it, or its dimensions are out of bounds.</exception>
    public static ImageHeader ReadHeader(ReadOnlySpan<byte> data)
    {
        using var codec = Open(data, FormatName(ImageMetadata.SniffImageType(data)));
        return Header(codec);
    }

    /// <summary>
    /// A JPEG thumbnail of an image: the longest side at most <see cref="ThumbnailMaxSide"/>, re-encoded from pixels
    /// (so it carries no metadata of the original), and at most <paramref name="maxBytes"/> bytes.
    /// </summary>
    /// <param name="data">The image's bytes.</param>
    /// <param name="maxBytes">The byte budget; at most <see cref="AttachmentDescriptor.MaxThumbnailBytes"/>.</param>
    /// <exception cref="InvalidImageException">The image does not decode whole, or is out of bounds.</exception>
    public static byte[] CreateThumbnail(ReadOnlySpan<byte> data, int maxBytes = ThumbnailMaxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBytes, AttachmentDescriptor.MaxThumbnailBytes);
        var format = FormatName(ImageMetadata.SniffImageType(data));
        using var codec = Open(data, format);
        var info = codec.Info;

        // JPEG decodes at 1/2, 1/4 or 1/8 scale for free: a large photo is never held at full size for a thumbnail.
        // The codec picks the nearest scale it supports, which may be below the thumbnail's size: then the next larger.
        var longest = Math.Max(info.Width, info.Height);
        var needed = Math.Min(ThumbnailMaxSide, longest);
        var scale = (float)needed / longest;
        var scaled = codec.GetScaledDimensions(scale);
        while (Math.Max(scaled.Width, scaled.Height) < needed && scale < 1f)
        {
            scale = Math.Min(1f, scale * 2);
            scaled = codec.GetScaledDimensions(scale);
        }

        using var pixels = Decode(codec, scaled.Width, scaled.Height, format)
            ?? Decode(codec, info.Width, info.Height, format)
            ?? throw new InvalidImageException(format, "its pixels do not decode");
        using var image = SKImage.FromBitmap(pixels);
        foreach (var (side, quality) in ThumbnailSteps)
        {
            var thumbnail = Encode(image, side, quality);
            if (thumbnail.Length <= maxBytes)
            {
                return thumbnail;
            }
        }

        throw new InvalidImageException(format, $"no thumbnail of it fits in {maxBytes} bytes");
    }

    /// <summary>
    /// Checks a downloaded image against its descriptor: the header must decode as the declared type, with the
    /// declared width and height (when the descriptor gives them). Returns why not, or null when it matches; anything
    /// not declared as a JPEG or PNG is not checked.
    /// </summary>
    /// <param name="descriptor">What the message said about the file.</param>
    /// <param name="content">The decrypted file.</param>
    public static string? Verify(AttachmentDescriptor descriptor, ReadOnlySpan<byte> content)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        if (descriptor.MimeType is not ("image/jpeg" or "image/png"))
        {
            return null;
        }

        ImageHeader header;
        try
        {
            header = ReadHeader(content);
        }
        catch (InvalidImageException ex)
        {
            return $"the message says {descriptor.MimeType}, but the file is {ex.Message}";
        }

        if (header.MimeType != descriptor.MimeType)
        {
            return $"the message says {descriptor.MimeType}, but the file is {header.MimeType}";
        }

        // Width and height 0: a sender that did not declare them (older clients); the type alone is checked.
        return (descriptor.Width, descriptor.Height) != (0, 0) && (descriptor.Width, descriptor.Height) != ((uint)header.Width, (uint)header.Height)
            ? $"the message says {descriptor.Width}×{descriptor.Height}, but the image is {header.Width}×{header.Height}"
            : null;
    }

    private static SKCodec Open(ReadOnlySpan<byte> data, string format)
    {
        using var skData = SKData.CreateCopy(data);
        var codec = SKCodec.Create(skData) ?? throw new InvalidImageException(format, "its header does not decode");
        try
        {
            Header(codec);
            return codec;
        }
        catch
        {
            codec.Dispose();
            throw;
        }
    }

    private static ImageHeader Header(SKCodec codec)
    {
        var info = codec.Info;
        var mime = codec.EncodedFormat switch
        {
            SKEncodedImageFormat.Jpeg => "image/jpeg",
            SKEncodedImageFormat.Png => "image/png",
            SKEncodedImageFormat.Webp => "image/webp",
            SKEncodedImageFormat.Gif => "image/gif",
            var other => "image/x-" + other.ToString().ToLowerInvariant(),
        };
        var format = FormatName(mime);
        if (info.Width <= 0 || info.Height <= 0 || info.Width > MaxSide || info.Height > MaxSide)
        {
            throw new InvalidImageException(format, $"its header claims {info.Width}×{info.Height} pixels (at most {MaxSide} a side)");
        }

        if ((long)info.Width * info.Height > MaxPixels)
        {
            throw new InvalidImageException(format, $"{info.Width}×{info.Height} is over {MaxPixels / 1_000_000} megapixels");
        }

        return new ImageHeader(mime, info.Width, info.Height);
    }

    // Null when the codec cannot decode at this size (an unsupported scale); a decode that starts but fails (a
    // truncated or corrupt body) refuses the image: a partial picture is not a valid one.
    private static SKBitmap? Decode(SKCodec codec, int width, int height, string format)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result == SKCodecResult.Success)
        {
            return bitmap;
        }

        bitmap.Dispose();
        return result is SKCodecResult.InvalidScale ? null : throw new InvalidImageException(format, $"its pixels do not decode ({result})");
    }

    // Drawn over white (JPEG has no alpha), scaled to fit the side, and encoded from pixels alone: no EXIF, no text.
    private static byte[] Encode(SKImage image, int side, int quality)
    {
        var ratio = Math.Min(1.0, (double)side / Math.Max(image.Width, image.Height));
        var width = Math.Max(1, (int)Math.Round(image.Width * ratio));
        var height = Math.Max(1, (int)Math.Round(image.Height * ratio));
        using var target = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using (var canvas = new SKCanvas(target))
        {
            canvas.Clear(SKColors.White);
            canvas.DrawImage(image, new SKRect(0, 0, width, height), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        }

        using var encoded = target.Encode(SKEncodedImageFormat.Jpeg, quality);
        return encoded.ToArray();
    }

    private static string FormatName(string? mime) => mime switch
    {
        "image/jpeg" => "JPEG",
        "image/png" => "PNG",
        null => "image",
        _ => mime["image/".Length..].ToUpperInvariant(),
    };
}
