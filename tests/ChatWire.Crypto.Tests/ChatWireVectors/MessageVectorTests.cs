using System.Text.Json.Nodes;

namespace ChatWire.Crypto.Tests.ChatWireVectors;

/// <summary>The library against sender-chain.json, envelope.json and attachment.json.</summary>
public sealed class MessageVectorTests
{
    [Fact]
    public void SenderChain_Iterations0To5_ReproducedByTheLibrary()
    {
        var document = VectorFile.Load("sender-chain.json");
        var outbound = Outbound(VectorFile.Load("envelope.json")["chain"]!, document.Bytes("chain_key_0"), 0);

        foreach (var step in VectorFile.Items(document, "iterations", 6))
        {
            var okm = new byte[ChainKdf.MessageKeyMaterialSize];
            var next = new byte[32];
            ChainKdf.MessageKey(step!.Bytes("chain_key"), okm);
            ChainKdf.Next(step.Bytes("chain_key"), next);
            Assert.Equal(step.Bytes("message_key"), okm[..32]);
            Assert.Equal(step.Bytes("nonce"), okm[32..]);
            Assert.Equal(step.Bytes("next_chain_key"), next);

            Assert.Equal(step.Bytes("chain_key"), outbound.ChainKey);
            Assert.Equal((uint)step["iteration"]!, outbound.Advance(okm));
            Assert.Equal(step.Bytes("message_key"), okm[..32]);
        }
    }

    [Fact]
    public void Envelope_EveryVector_EncodedEncryptedAndSignedByteForByte()
    {
        var document = VectorFile.Load("envelope.json");
        var chain = document["chain"]!;
        var seed = SeedPayload.Decode(chain.Bytes("seed"));
        Assert.Equal(chain.Bytes("seed"), new SeedPayload(
            chain.Id("conversation_id"), (ulong)chain["epoch"]!, chain.Id("sender_user_id"), chain.Id("sender_device_id"), chain.Id("chain_id"),
            0, chain.Bytes("chain_key_0"), chain.Bytes("signing_public")).Encode());

        foreach (var vector in VectorFile.Items(document, "vectors", 6))
        {
            var header = Header(vector!, chain);
            var headerBytes = Envelope.EncodeHeader(header);
            Assert.Equal(vector.Bytes("header"), headerBytes);
            Assert.Equal(vector.Bytes("associated_data"), Envelope.AssociatedData(headerBytes));
            Assert.Equal(vector.Bytes("padded_plaintext"), Padding.Pad(vector.Bytes("plaintext")));

            var outbound = Outbound(chain, vector.Bytes("chain_key"), (uint)vector["iteration"]!);
            Assert.Equal(vector.Bytes("envelope"), MessageCipher.Encrypt(outbound, header with { Nonce = new byte[12] }, vector.Bytes("plaintext")));
        }

        Assert.Equal(chain.Bytes("signing_public"), seed.SigningPublicKey);
    }

    [Fact]
    public void Envelope_EveryVectorInOrder_DecryptsToItsPlaintextAndHeader()
    {
        var document = VectorFile.Load("envelope.json");
        var chain = document["chain"]!;
        var inbound = InboundChain.FromSeed(SeedPayload.Decode(chain.Bytes("seed")));

        foreach (var vector in VectorFile.Items(document, "vectors", 6))
        {
            var result = Decrypt(inbound, vector!.Bytes("envelope"), chain.Id("conversation_id"), chain.Id("sender_user_id"));

            Assert.True(result.Succeeded, $"{vector.Str("name")}: {result.Error} {result.Reason}");
            Assert.Equal(vector.Bytes("plaintext"), result.Plaintext);
            var expected = Header(vector, chain);
            var actual = result.Header!;
            Assert.Equal(
                (expected.ContentType, expected.MessageId, expected.Iteration, expected.ClientTimestampMs, expected.ThreadRootId, expected.TargetMessageId, expected.MentionsChannel, expected.MentionsHere),
                (actual.ContentType, actual.MessageId, actual.Iteration, actual.ClientTimestampMs, actual.ThreadRootId, actual.TargetMessageId, actual.MentionsChannel, actual.MentionsHere));
            Assert.Equal(expected.Mentions, actual.Mentions);
            Assert.Equal(expected.Nonce, actual.Nonce);
        }
    }

    [Fact]
    public async Task Attachment_EveryVector_ChunksReproducedAndWholeFileDecrypts()
    {
        var document = VectorFile.Load("attachment.json");
        var fileId = document.Id("file_id");
        var fileKey = document.Bytes("file_key");
        var prefix = document.Bytes("nonce_prefix");

        foreach (var vector in VectorFile.Items(document, "vectors", 4))
        {
            var length = (int)vector!["plaintext_length"]!;
            var plaintext = Spec.AttachmentPlaintext(length);
            var ciphertext = new MemoryStream();
            var chunks = vector["chunks"]!.AsArray();
            foreach (var chunk in chunks)
            {
                var index = (int)chunk!["index"]!;
                var part = plaintext.AsSpan(index * AttachmentCipher.ChunkSize, (int)chunk["plaintext_length"]!);
                var encrypted = AttachmentCipher.EncryptChunk(fileKey, prefix, fileId, (uint)index, (bool)chunk["last"]!, part);
                Assert.Equal(chunk.Bytes("ciphertext_sha256"), System.Security.Cryptography.SHA256.HashData(encrypted));
                Assert.Equal(chunk.Bytes("tag"), encrypted[^16..]);
                if (chunk["ciphertext"] is not null)
                {
                    Assert.Equal(chunk.Bytes("ciphertext"), encrypted);
                }

                ciphertext.Write(encrypted);
            }

            var sha256 = vector.Bytes("ciphertext_sha256");
            Assert.Equal((long)vector["ciphertext_length"]!, AttachmentCipher.CiphertextLength(length));
            Assert.Equal(sha256, System.Security.Cryptography.SHA256.HashData(ciphertext.ToArray()));

            ciphertext.Position = 0;
            var decrypted = new MemoryStream();
            await AttachmentCipher.DecryptAsync(ciphertext, decrypted, new AttachmentKeys(fileId, fileKey, prefix, sha256, ciphertext.Length, length));
            Assert.Equal(plaintext, decrypted.ToArray());
        }
    }

    internal static EnvelopeHeader Header(JsonNode vector, JsonNode chain) => new()
    {
        ContentType = (EnvelopeContentType)(int)vector["content_type"]!,
        ConversationId = chain.Id("conversation_id"),
        MessageId = vector.Id("message_id"),
        SenderUserId = chain.Id("sender_user_id"),
        SenderDeviceId = chain.Id("sender_device_id"),
        Epoch = (ulong)chain["epoch"]!,
        ChainId = chain.Id("chain_id"),
        Iteration = (uint)vector["iteration"]!,
        ClientTimestampMs = (long)vector["client_ts_ms"]!,
        ThreadRootId = vector["thread_root_id"] is null ? null : vector.Id("thread_root_id"),
        TargetMessageId = vector["target_message_id"] is null ? null : vector.Id("target_message_id"),
        Mentions = [.. vector["mentions"]!.AsArray().Select(m => Guid.Parse((string)m!))],
        MentionsChannel = (bool)vector["mentions_channel"]!,
        MentionsHere = (bool)vector["mentions_here"]!,
        Nonce = vector.Bytes("nonce"),
    };

    internal static DecryptResult Decrypt(InboundChain chain, byte[] envelope, Guid deliveredIn, Guid deliveredFrom) =>
        MessageCipher.Decrypt(envelope, deliveredIn, deliveredFrom, id => id == chain.ChainId ? chain : null, _ => false, out _);

    private static OutboundChain Outbound(JsonNode chain, byte[] chainKey, uint iteration) => new()
    {
        ConversationId = chain.Id("conversation_id"),
        Epoch = (ulong)chain["epoch"]!,
        SenderUserId = chain.Id("sender_user_id"),
        SenderDeviceId = chain.Id("sender_device_id"),
        ChainId = chain.Id("chain_id"),
        SigningPrivateKey = chain.Bytes("signing_private"),
        SigningPublicKey = chain.Bytes("signing_public"),
        CreatedAtMs = 0,
        Iteration = iteration,
        ChainKey = chainKey,
    };
}
