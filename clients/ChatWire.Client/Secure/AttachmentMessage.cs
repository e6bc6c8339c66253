using System.Buffers.Binary;
using System.Text;
using ChatWire.Crypto;

namespace ChatWire.Client.Secure;

/// <summary>An attachment as a message carries it (inside the encrypted envelope): its file name and descriptor.</summary>
/// <param name="FileName">The file's name as the sender gave it (no path).</param>
/// <param name="Descriptor">Where to fetch it and how to decrypt and check it.</param>
public sealed record AttachmentMessage(string FileName, AttachmentDescriptor Descriptor)
{
    // Message plaintext that starts with this is an attachment, not text: "CW-file-v1" || 0x00 ||
    // u16 name_len || name (UTF-8) || descriptor. Text never starts with a NUL in its 11th byte by accident.
    private static readonly byte[] Marker = [.. "CW-file-v1"u8, 0x00];

    /// <summary>The message plaintext for this attachment.</summary>
    public byte[] Encode()
    {
        var name = Encoding.UTF8.GetBytes(FileName);
        if (name.Length > ushort.MaxValue)
        {
            throw new ArgumentException("The file name is too long.", nameof(FileName));
        }

        var descriptor = Descriptor.Encode();
        var bytes = new byte[Marker.Length + 2 + name.Length + descriptor.Length];
        Marker.CopyTo(bytes, 0);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(Marker.Length), (ushort)name.Length);
        name.CopyTo(bytes, Marker.Length + 2);
        descriptor.CopyTo(bytes, Marker.Length + 2 + name.Length);
        return bytes;
    }

    /// <summary>Reads an attachment message; false when the plaintext is not one (plain text).</summary>
    /// <param name="plaintext">A decrypted message body.</param>
    /// <param name="message">The attachment, when true.</param>
    public static bool TryDecode(ReadOnlySpan<byte> plaintext, out AttachmentMessage? message)
    {
        message = null;
        if (!plaintext.StartsWith(Marker) || plaintext.Length < Marker.Length + 2)
        {
            return false;
        }

        var nameLength = BinaryPrimitives.ReadUInt16BigEndian(plaintext[Marker.Length..]);
        var start = Marker.Length + 2;
        if (plaintext.Length < start + nameLength)
        {
            return false;
        }

        try
        {
            message = new AttachmentMessage(Encoding.UTF8.GetString(plaintext.Slice(start, nameLength)), AttachmentDescriptor.Decode(plaintext[(start + nameLength)..]));
            return true;
        }
        catch (ChatWireCryptoException)
        {
            return false;
        }
    }
}
