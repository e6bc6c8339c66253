using System.Text.Json.Nodes;
using ChatWire.Client.Secure;

namespace ChatWire.Client.Tests;

/// <summary>
/// The SDK's attachment message plaintext ("CW-file-v1" || 0x00 || u16 name_len || name || descriptor) against
/// attachment-message.json, the vectors docs/e2e.md publishes for other clients.
/// </summary>
public sealed class AttachmentMessageVectorTests
{
    [Fact]
    public void AttachmentMessage_EveryVector_ReadAsTheVectorSays_AndEncodedByteForByte()
    {
        var document = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vectors", "attachment-message.json")))!;
        var vectors = document["vectors"]!.AsArray();
        Assert.Equal(8, vectors.Count);
        Assert.Equal(8, (int)document["count"]!);
        var read = 0;

        foreach (var vector in vectors)
        {
            var name = (string)vector!["name"]!;
            var plaintext = Convert.FromHexString((string)vector["plaintext"]!);
            var isAttachment = AttachmentMessage.TryDecode(plaintext, out var message);

            Assert.True((bool)vector["is_attachment"]! == isAttachment, $"{name}: read as an attachment: {isAttachment}");
            if (!isAttachment)
            {
                continue;
            }

            read++;
            Assert.Equal((string)vector["file_name"]!, message!.FileName);
            Assert.Equal(Guid.Parse((string)vector["attachment_id"]!), message.Descriptor.AttachmentId);
            Assert.Equal(Guid.Parse((string)vector["file_id"]!), message.Descriptor.Keys.FileId);
            Assert.Equal(Convert.FromHexString((string)vector["file_key"]!), message.Descriptor.Keys.FileKey);
            Assert.Equal((long)vector["plaintext_size"]!, message.Descriptor.Keys.PlaintextSize);
            Assert.Equal((string)vector["mime"]!, message.Descriptor.MimeType);
            Assert.Equal(((uint)vector["width"]!, (uint)vector["height"]!), (message.Descriptor.Width, message.Descriptor.Height));
            Assert.Equal(Convert.FromHexString((string)vector["thumbnail"]!), message.Descriptor.Thumbnail ?? []);
            Assert.Equal(plaintext, message.Encode());
        }

        Assert.Equal(2, read);
    }
}
