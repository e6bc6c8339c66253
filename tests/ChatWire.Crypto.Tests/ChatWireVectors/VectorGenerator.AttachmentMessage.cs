using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace ChatWire.Crypto.Tests.ChatWireVectors;

/// <summary>The attachment descriptor and the "CW-file-v1" message plaintext that carries it (docs/e2e.md, "Attachments encryption").</summary>
internal static partial class VectorGenerator
{
    public static readonly Guid AttachmentId = Guid.Parse("01936f3e-0001-7000-8000-0000000a77ac");

    private static JsonObject AttachmentMessages()
    {
        var file = TwoChunkFile();
        var thumbnail = Spec.AttachmentPlaintext(300);
        var image = Spec.AttachmentDescriptor(1, AttachmentId, file.FileId, file.Key, file.Prefix, file.Sha256, file.CiphertextSize, file.PlaintextSize, "image/png", 640, 480, thumbnail);
        var document = Spec.AttachmentDescriptor(1, AttachmentId, file.FileId, file.Key, file.Prefix, file.Sha256, file.CiphertextSize, file.PlaintextSize, "application/octet-stream", 0, 0, []);
        var sizesDisagree = Spec.AttachmentDescriptor(1, AttachmentId, file.FileId, file.Key, file.Prefix, file.Sha256, file.CiphertextSize + 1, file.PlaintextSize, "application/octet-stream", 0, 0, []);
        var unknownVersion = Spec.AttachmentDescriptor(2, AttachmentId, file.FileId, file.Key, file.Prefix, file.Sha256, file.CiphertextSize, file.PlaintextSize, "application/octet-stream", 0, 0, []);

        JsonArray items =
        [
            AttachmentMessage("image-with-thumbnail", "cat.png", image, file, "image/png", 640, 480, thumbnail,
                "A PNG of 640 × 480 with a 300-byte thumbnail (the bytes i mod 251: the format carries any bytes; a receiver's image checks come after)."),
            AttachmentMessage("file-with-utf8-name", "Résumé 2026.pdf", document, file, "application/octet-stream", 0, 0, [],
                "Not an image: no dimensions, no thumbnail; name_len counts the name's UTF-8 bytes (17), not its characters (15)."),
            NotAnAttachment("text-naming-the-marker", Encoding.UTF8.GetBytes("CW-file-v1 is the attachment marker"), "Text: byte 11 is not 0x00."),
            NotAnAttachment("name-longer-than-plaintext", SpecBytes.Of("CW-file-v1").U8(0).U16(200).Ascii("cat.png").ToArray(), "name_len (200) runs past the end."),
            NotAnAttachment("sizes-disagree", Spec.AttachmentMessage("cat.bin", sizesDisagree), "ciphertext_size is not plaintext_size + 16 × the number of chunks."),
            NotAnAttachment("descriptor-trailing-byte", [.. Spec.AttachmentMessage("cat.bin", document), 0x00], "One byte after the thumbnail."),
            NotAnAttachment("descriptor-unknown-version", Spec.AttachmentMessage("cat.bin", unknownVersion), "Descriptor version 2 is not known."),
            NotAnAttachment("descriptor-truncated", Spec.AttachmentMessage("cat.bin", document[..^1]), "The descriptor stops one byte short."),
        ];
        return Document(
            "Attachment message plaintexts: \"CW-file-v1\" || 0x00 || u16 name_len || name || descriptor, the descriptor naming attachment.json's two-chunks file. \"is_attachment\": false for a plaintext that must not be read as one.",
            "vectors",
            items);
    }

    private static JsonObject AttachmentMessage(
        string name, string fileName, byte[] descriptor, TwoChunkFileFacts file, string mime, uint width, uint height, byte[] thumbnail, string reason) => new()
        {
            ["name"] = name,
            ["is_attachment"] = true,
            ["reason"] = reason,
            ["file_name"] = fileName,
            ["attachment_id"] = Text(AttachmentId),
            ["file_id"] = Text(file.FileId),
            ["file_key"] = Hex(file.Key),
            ["nonce_prefix"] = Hex(file.Prefix),
            ["sha256"] = Hex(file.Sha256),
            ["ciphertext_size"] = file.CiphertextSize,
            ["plaintext_size"] = file.PlaintextSize,
            ["mime"] = mime,
            ["width"] = width,
            ["height"] = height,
            ["thumbnail"] = Hex(thumbnail),
            ["descriptor"] = Hex(descriptor),
            ["plaintext"] = Hex(Spec.AttachmentMessage(fileName, descriptor)),
        };

    private static JsonObject NotAnAttachment(string name, byte[] plaintext, string reason) => new()
    {
        ["name"] = name,
        ["is_attachment"] = false,
        ["reason"] = reason,
        ["plaintext"] = Hex(plaintext),
    };

    private static TwoChunkFileFacts TwoChunkFile()
    {
        var chunks = TwoChunkCiphertext();
        byte[] whole = [.. chunks[0], .. chunks[1]];
        return new TwoChunkFileFacts(
            Fixed.FileId,
            Fixed.Secret("attachment/file-key"),
            Fixed.Secret("attachment/nonce-prefix")[..7],
            SHA256.HashData(whole),
            (ulong)whole.Length,
            Spec.ChunkSize + 1000);
    }

    private sealed record TwoChunkFileFacts(Guid FileId, byte[] Key, byte[] Prefix, byte[] Sha256, ulong CiphertextSize, ulong PlaintextSize);
}
