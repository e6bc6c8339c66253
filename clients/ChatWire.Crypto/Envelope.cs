namespace ChatWire.Crypto;

/// <summary>
/// The envelope codec (docs/e2e.md "Envelope"): header || u32 ct_len || ct || Ed25519 signature(64) by the chain's
/// SigK (or, on an epoch-secret chain, the sender's DSK) over "CW-sig-v1" || header || body. AAD = "ChatWire/env/v1" || header.
/// </summary>
internal static class Envelope
{
    private const byte FlagThread = 0x01;
    private const byte FlagTarget = 0x02;
    private const byte FlagChannel = 0x04;
    private const byte FlagHere = 0x08;
    private const byte FlagEpochSecret = 0x10;

    /// <summary>The fixed part of the header: 4 bytes, 4 ids, u64 epoch, chain id, u32 iteration, u64 timestamp.</summary>
    private const int FixedHeaderSize = 4 + (16 * 4) + 8 + 16 + 4 + 8;

    public static byte[] EncodeHeader(EnvelopeHeader header)
    {
        Validate(header);
        var flags = (byte)((header.ThreadRootId is null ? 0 : FlagThread) | (header.TargetMessageId is null ? 0 : FlagTarget)
            | (header.MentionsChannel ? FlagChannel : 0) | (header.MentionsHere ? FlagHere : 0) | (header.EpochSecretId is null ? 0 : FlagEpochSecret));
        var writer = new ByteWriter(FixedHeaderSize + 64 + (header.Mentions.Count * 16))
            .U8(EnvelopeHeader.Version).U8(EnvelopeHeader.Suite).U8((byte)header.ContentType).U8(flags)
            .Id(header.ConversationId).Id(header.MessageId).Id(header.SenderUserId).Id(header.SenderDeviceId)
            .U64(header.Epoch).Id(header.ChainId);
        if (header.EpochSecretId is { } secret)
        {
            writer.Id(secret);
        }

        writer.U32(header.Iteration).U64((ulong)header.ClientTimestampMs);
        if (header.ThreadRootId is { } thread)
        {
            writer.Id(thread);
        }

        if (header.TargetMessageId is { } target)
        {
            writer.Id(target);
        }

        writer.U16((ushort)header.Mentions.Count);
        foreach (var mention in header.Mentions)
        {
            writer.Id(mention);
        }

        return writer.Bytes(header.Nonce).ToArray();
    }

    public static byte[] AssociatedData(ReadOnlySpan<byte> headerBytes) =>
        new ByteWriter(headerBytes.Length + 16).Bytes(Labels.EnvelopeAssociatedData).Bytes(headerBytes).ToArray();

    /// <summary>Assembles and signs the envelope from the encoded header and the AES-GCM output.</summary>
    public static byte[] Assemble(ReadOnlySpan<byte> headerBytes, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> signingPrivateKey)
    {
        var envelope = new ByteWriter(headerBytes.Length + ciphertext.Length + 68)
            .Bytes(headerBytes).U32((uint)ciphertext.Length).Bytes(ciphertext);
        var signature = Primitives.Sign(signingPrivateKey, SignedBytes(envelope.WrittenSpan));
        return envelope.Bytes(signature).ToArray();
    }

    /// <summary>Parses the layout (no cryptographic check); anything off is <see cref="CryptoError.Malformed"/>.</summary>
    public static ParsedEnvelope Parse(ReadOnlySpan<byte> envelope)
    {
        var reader = new ByteReader(envelope);
        if (reader.U8() != EnvelopeHeader.Version || reader.U8() != EnvelopeHeader.Suite)
        {
            throw ChatWireCryptoException.Malformed("Unknown envelope version or suite.");
        }

        var contentType = (EnvelopeContentType)reader.U8();
        var flags = reader.U8();
        if ((flags & ~(FlagThread | FlagTarget | FlagChannel | FlagHere | FlagEpochSecret)) != 0)
        {
            throw ChatWireCryptoException.Malformed("Unknown envelope flags.");
        }

        var conversation = reader.Id();
        var message = reader.Id();
        var senderUser = reader.Id();
        var senderDevice = reader.Id();
        var epoch = reader.U64();
        var chain = reader.Id();
        Guid? epochSecret = (flags & FlagEpochSecret) != 0 ? reader.Id() : null;
        var iteration = reader.U32();
        var timestamp = (long)reader.U64();
        Guid? thread = (flags & FlagThread) != 0 ? reader.Id() : null;
        Guid? target = (flags & FlagTarget) != 0 ? reader.Id() : null;
        var mentionCount = reader.U16();
        if (mentionCount * 16 > reader.Remaining)
        {
            // Checked before allocating: a lying count must not cost more memory than the envelope itself.
            throw ChatWireCryptoException.Malformed("The envelope's mention count does not fit its size.");
        }

        var mentions = new Guid[mentionCount];
        for (var i = 0; i < mentionCount; i++)
        {
            mentions[i] = reader.Id();
        }

        var nonce = reader.Bytes(Primitives.GcmNonceSize).ToArray();
        var headerLength = reader.Position;
        var ciphertextLength = reader.U32();
        if (ciphertextLength < Primitives.GcmTagSize || ciphertextLength > reader.Remaining - Primitives.SignatureSize)
        {
            throw ChatWireCryptoException.Malformed("The envelope's ciphertext length does not match its size.");
        }

        var ciphertextStart = reader.Position;
        reader.Bytes((int)ciphertextLength);
        reader.Bytes(Primitives.SignatureSize);
        reader.EnsureEnd("The envelope");

        var header = new EnvelopeHeader
        {
            ContentType = contentType,
            ConversationId = conversation,
            MessageId = message,
            SenderUserId = senderUser,
            SenderDeviceId = senderDevice,
            Epoch = epoch,
            ChainId = chain,
            EpochSecretId = epochSecret,
            Iteration = iteration,
            ClientTimestampMs = timestamp,
            ThreadRootId = thread,
            TargetMessageId = target,
            Mentions = mentions,
            MentionsChannel = (flags & FlagChannel) != 0,
            MentionsHere = (flags & FlagHere) != 0,
            Nonce = nonce,
        };
        Validate(header);
        return new ParsedEnvelope(header, headerLength, ciphertextStart, (int)ciphertextLength);
    }

    /// <summary>Whether the trailing signature verifies under the chain's SigK_pub (or the sender's DSK on an epoch-secret chain).</summary>
    public static bool VerifySignature(ReadOnlySpan<byte> envelope, ReadOnlySpan<byte> signingPublicKey)
    {
        var signedLength = envelope.Length - Primitives.SignatureSize;
        return Primitives.Verify(signingPublicKey, SignedBytes(envelope[..signedLength]), envelope[signedLength..]);
    }

    private static byte[] SignedBytes(ReadOnlySpan<byte> headerAndBody) =>
        new ByteWriter(headerAndBody.Length + 16).Bytes(Labels.EnvelopeSignature).Bytes(headerAndBody).ToArray();

    // Content types and their references go together, so that one kind can never be read as another.
    private static void Validate(EnvelopeHeader header)
    {
        var needsTarget = header.ContentType is EnvelopeContentType.Edit or EnvelopeContentType.Delete or EnvelopeContentType.Reaction;
        if (!Enum.IsDefined(header.ContentType)
            || needsTarget != header.TargetMessageId.HasValue
            || (header.ContentType == EnvelopeContentType.ThreadReply && header.ThreadRootId is null)
            || header.Mentions.Count > EnvelopeHeader.MaxMentions
            || header.Nonce.Length != Primitives.GcmNonceSize)
        {
            throw ChatWireCryptoException.Malformed(
                $"Envelope content type {(int)header.ContentType} with thread {header.ThreadRootId is not null}, target {header.TargetMessageId is not null} is not a valid combination.");
        }
    }
}

/// <summary>A parsed envelope: the header and where its parts lie in the envelope bytes.</summary>
internal sealed record ParsedEnvelope(EnvelopeHeader Header, int HeaderLength, int CiphertextStart, int CiphertextLength);

/// <summary>Plaintext padding (docs/e2e.md "Envelope"): 0x80 then zeros up to the bucket size.</summary>
internal static class Padding
{
    private const int Step = 256;
    private const int StepLimit = 4096;

    /// <summary>The padded size of <paramref name="length"/> plaintext bytes: 256-byte steps up to 4 KiB, then powers of two.</summary>
    public static int PaddedSize(int length)
    {
        var needed = checked(length + 1);
        if (needed <= StepLimit)
        {
            return (needed + Step - 1) / Step * Step;
        }

        var size = StepLimit;
        while (size < needed)
        {
            size = checked(size * 2);
        }

        return size;
    }

    public static byte[] Pad(ReadOnlySpan<byte> plaintext)
    {
        var padded = new byte[PaddedSize(plaintext.Length)];
        plaintext.CopyTo(padded);
        padded[plaintext.Length] = 0x80;
        return padded;
    }

    public static byte[] Unpad(ReadOnlySpan<byte> padded)
    {
        var end = padded.LastIndexOfAnyExcept((byte)0);
        if (end < 0 || padded[end] != 0x80)
        {
            throw ChatWireCryptoException.Malformed("The decrypted plaintext is not padded.");
        }

        return padded[..end].ToArray();
    }
}
