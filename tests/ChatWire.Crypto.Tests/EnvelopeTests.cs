using System.Buffers.Binary;

namespace ChatWire.Crypto.Tests;

public sealed class EnvelopeTests
{
    [Fact]
    public void Decrypt_EncryptedMessage_ReturnsPlaintextAndHeader()
    {
        var (outbound, inbound) = SenderChainTests.Pair();
        var mention = Guid.CreateVersion7();
        var template = Template(outbound) with { ContentType = EnvelopeContentType.ThreadReply, ThreadRootId = Guid.CreateVersion7(), Mentions = [mention], MentionsHere = true };

        var envelope = MessageCipher.Encrypt(outbound, template, "hello"u8);
        var result = Decrypt(envelope, inbound);

        Assert.True(result.Succeeded, result.Reason);
        Assert.Equal("hello"u8.ToArray(), result.Plaintext);
        Assert.Equal(template.ThreadRootId, result.Header!.ThreadRootId);
        Assert.Equal([mention], result.Header.Mentions);
        Assert.True(result.Header.MentionsHere);
        Assert.False(result.Header.MentionsChannel);
    }

    [Fact]
    public void EncodeHeader_Layout_MatchesContract()
    {
        var header = new EnvelopeHeader
        {
            ContentType = EnvelopeContentType.Edit,
            ConversationId = Guid.Parse("00000000-0000-0000-0000-000000000001"),
            MessageId = Guid.Parse("00000000-0000-0000-0000-000000000002"),
            SenderUserId = Guid.Parse("00000000-0000-0000-0000-000000000003"),
            SenderDeviceId = Guid.Parse("00000000-0000-0000-0000-000000000004"),
            Epoch = 5,
            ChainId = Guid.Parse("00000000-0000-0000-0000-000000000006"),
            Iteration = 7,
            ClientTimestampMs = 8,
            TargetMessageId = Guid.Parse("00000000-0000-0000-0000-000000000009"),
            MentionsChannel = true,
            Nonce = Enumerable.Repeat((byte)0xEE, 12).ToArray(),
        };

        var bytes = Envelope.EncodeHeader(header);

        Assert.Equal(4 + (16 * 4) + 8 + 16 + 4 + 8 + 16 + 2 + 12, bytes.Length);
        Assert.Equal(new byte[] { 1, 1, 2, 0x06 }, bytes[..4]);
        Assert.Equal(1, bytes[19]);
        Assert.Equal(4, bytes[67]);
        Assert.Equal(5UL, BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(68)));
        Assert.Equal(6, bytes[91]);
        Assert.Equal(7u, BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(92)));
        Assert.Equal(8UL, BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(96)));
        Assert.Equal(9, bytes[119]);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(120)));
        var parsed = Envelope.Parse([.. bytes, 0, 0, 0, 16, .. new byte[16], .. new byte[64]]).Header;
        Assert.Equal(header.Nonce, parsed.Nonce);
        Assert.Equal(header, parsed with { Mentions = header.Mentions, Nonce = header.Nonce });
    }

    [Fact]
    public void Decrypt_AnyFlippedByte_Fails()
    {
        var (outbound, inbound) = SenderChainTests.Pair();
        var envelope = MessageCipher.Encrypt(outbound, Template(outbound), "x"u8);

        for (var i = 0; i < envelope.Length; i += 7)
        {
            var tampered = envelope.ToArray();
            tampered[i] ^= 0x01;
            Assert.False(Decrypt(tampered, inbound).Succeeded, $"byte {i}");
        }

        Assert.True(Decrypt(envelope, inbound).Succeeded);
    }

    [Fact]
    public void Decrypt_SameEnvelopeTwice_Replay()
    {
        var (outbound, inbound) = SenderChainTests.Pair();
        var envelope = MessageCipher.Encrypt(outbound, Template(outbound), "x"u8);

        Assert.True(Decrypt(envelope, inbound).Succeeded);
        Assert.Equal(CryptoError.Replay, Decrypt(envelope, inbound).Error);
    }

    [Fact]
    public void Decrypt_SameMessageIdAtNewIteration_Replay()
    {
        var (outbound, inbound) = SenderChainTests.Pair();
        var template = Template(outbound);

        Assert.True(Decrypt(MessageCipher.Encrypt(outbound, template, "x"u8), inbound).Succeeded);
        Assert.Equal(CryptoError.Replay, Decrypt(MessageCipher.Encrypt(outbound, template, "x"u8), inbound).Error);
    }

    [Fact]
    public void Decrypt_OtherConversation_WrongConversation()
    {
        var (outbound, inbound) = SenderChainTests.Pair();
        var envelope = MessageCipher.Encrypt(outbound, Template(outbound), "x"u8);

        var result = MessageCipher.Decrypt(envelope, Guid.CreateVersion7(), null, _ => inbound, _ => false, out _);

        Assert.Equal(CryptoError.WrongConversation, result.Error);
    }

    [Fact]
    public void Decrypt_UnknownChain_NoKeyForChain()
    {
        var (outbound, _) = SenderChainTests.Pair();
        var envelope = MessageCipher.Encrypt(outbound, Template(outbound), "x"u8);

        var result = MessageCipher.Decrypt(envelope, outbound.ConversationId, null, _ => null, _ => false, out _);

        Assert.Equal(CryptoError.NoKeyForChain, result.Error);
        Assert.NotNull(result.Reason);
    }

    [Fact]
    public void Decrypt_DeliveredAsFromOtherUser_WrongSender()
    {
        var (outbound, inbound) = SenderChainTests.Pair();
        var envelope = MessageCipher.Encrypt(outbound, Template(outbound), "x"u8);

        var result = MessageCipher.Decrypt(envelope, outbound.ConversationId, Guid.CreateVersion7(), _ => inbound, _ => false, out _);

        Assert.Equal(CryptoError.WrongSender, result.Error);
    }

    [Fact]
    public void Decrypt_SignedByOtherKey_BadSignatureAndChainUnchanged()
    {
        var (outbound, inbound) = SenderChainTests.Pair();
        var forger = OutboundChain.Start(outbound.ConversationId, 1, outbound.SenderUserId, outbound.SenderDeviceId, 0);
        var forged = MessageCipher.Encrypt(outbound, Template(outbound), "x"u8);
        var body = forged.AsSpan(0, forged.Length - 64);
        Primitives.Sign(forger.SigningPrivateKey, [.. "CW-sig-v1"u8.ToArray(), .. body.ToArray()]).CopyTo(forged.AsSpan(forged.Length - 64));

        var result = Decrypt(forged, inbound);

        Assert.Equal(CryptoError.BadSignature, result.Error);
        Assert.Equal(0u, inbound.NextIteration);
    }

    [Fact]
    public void Decrypt_HeaderNonceNotDerived_NonceMismatch()
    {
        var (outbound, inbound) = SenderChainTests.Pair();
        var header = Template(outbound) with { Nonce = new byte[12] };
        var headerBytes = Envelope.EncodeHeader(header);
        var envelope = Envelope.Assemble(headerBytes, new byte[32], outbound.SigningPrivateKey);

        Assert.Equal(CryptoError.NonceMismatch, Decrypt(envelope, inbound).Error);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(15u)]
    [InlineData(uint.MaxValue)]
    [InlineData(0x7FFFFFFFu)]
    public void Parse_HostileCiphertextLength_Malformed(uint length)
    {
        var (outbound, _) = SenderChainTests.Pair();
        var envelope = MessageCipher.Encrypt(outbound, Template(outbound), "x"u8);
        var headerLength = Envelope.Parse(envelope).HeaderLength;
        BinaryPrimitives.WriteUInt32BigEndian(envelope.AsSpan(headerLength), length);

        Assert.Equal(CryptoError.Malformed, Assert.Throws<ChatWireCryptoException>(() => Envelope.Parse(envelope)).Error);
    }

    [Fact]
    public void Parse_MentionCountBeyondSize_Malformed()
    {
        var (outbound, _) = SenderChainTests.Pair();
        var envelope = MessageCipher.Encrypt(outbound, Template(outbound), "x"u8);
        BinaryPrimitives.WriteUInt16BigEndian(envelope.AsSpan(120), ushort.MaxValue);

        Assert.Equal(CryptoError.Malformed, Assert.Throws<ChatWireCryptoException>(() => Envelope.Parse(envelope)).Error);
    }

    [Fact]
    public void Parse_EveryTruncation_Malformed()
    {
        var (outbound, _) = SenderChainTests.Pair();
        var envelope = MessageCipher.Encrypt(outbound, Template(outbound), "x"u8);

        for (var length = 0; length < envelope.Length; length++)
        {
            Assert.Throws<ChatWireCryptoException>(() => Envelope.Parse(envelope.AsSpan(0, length)));
        }
    }

    [Fact]
    public void EncodeHeader_EditWithoutTarget_Malformed()
    {
        var (outbound, _) = SenderChainTests.Pair();

        Assert.Throws<ChatWireCryptoException>(() => Envelope.EncodeHeader(Template(outbound) with { ContentType = EnvelopeContentType.Edit }));
        Assert.Throws<ChatWireCryptoException>(() => Envelope.EncodeHeader(Template(outbound) with { TargetMessageId = Guid.CreateVersion7() }));
    }

    [Theory]
    [InlineData(0, 256)]
    [InlineData(255, 256)]
    [InlineData(256, 512)]
    [InlineData(4095, 4096)]
    [InlineData(4096, 8192)]
    [InlineData(8191, 8192)]
    [InlineData(8192, 16384)]
    public void PaddedSize_Length_Bucket(int length, int expected)
    {
        Assert.Equal(expected, Padding.PaddedSize(length));
    }

    [Fact]
    public void Unpad_Padded_RoundTripsAndRejectsMissingMarker()
    {
        byte[] plaintext = [1, 0, 0x80, 0];

        Assert.Equal(plaintext, Padding.Unpad(Padding.Pad(plaintext)));
        Assert.Throws<ChatWireCryptoException>(() => Padding.Unpad(new byte[256]));
        Assert.Throws<ChatWireCryptoException>(() => Padding.Unpad([1, 2, 0]));
    }

    internal static EnvelopeHeader Template(OutboundChain chain) => new()
    {
        ContentType = EnvelopeContentType.Message,
        ConversationId = chain.ConversationId,
        MessageId = Guid.CreateVersion7(),
        SenderUserId = chain.SenderUserId,
        SenderDeviceId = chain.SenderDeviceId,
        Epoch = chain.Epoch,
        ChainId = chain.ChainId,
        Iteration = chain.Iteration,
        ClientTimestampMs = 1_700_000_000_000,
        Nonce = new byte[12],
    };

    private static DecryptResult Decrypt(byte[] envelope, InboundChain inbound) =>
        MessageCipher.Decrypt(envelope, inbound.ConversationId, inbound.SenderUserId, _ => inbound, _ => false, out _);
}
