using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace ChatWire.Crypto.Tests.ChatWireVectors;

/// <summary>
/// The ChatWire constructions as /work/e2e-contract.md states them, written out for the vector generator. Only the
/// four primitives come from the library (<see cref="Primitives"/>, itself checked by the KnownAnswer tests).
/// </summary>
internal static class Spec
{
    public const int ChunkSize = 64 * 1024;

    public static byte[] X25519Public(byte[] privateKey) => Primitives.X25519PublicKey(privateKey);

    public static byte[] Ed25519Public(byte[] seed) => Primitives.Ed25519PublicKey(seed);

    public static byte[] Sign(byte[] seed, byte[] message) => Primitives.Sign(seed, message);

    /// <summary>X25519 without the all-zero refusal, so negative vectors can show the value that must be refused.</summary>
    public static byte[] DhUnchecked(byte[] privateKey, byte[] publicKey)
    {
        var shared = new byte[32];
        try
        {
            Primitives.Agree(privateKey, publicKey, shared);
        }
        catch (ChatWireCryptoException e) when (e.Error == CryptoError.AllZeroSharedSecret)
        {
            Array.Clear(shared);
        }

        return shared;
    }

    public static byte[] Hkdf(byte[] salt, byte[] ikm, string info, int length)
    {
        var output = new byte[length];
        Primitives.Hkdf(salt, ikm, Encoding.ASCII.GetBytes(info), output);
        return output;
    }

    public static byte[] Hkdf(byte[] salt, byte[] ikm, byte[] info, int length)
    {
        var output = new byte[length];
        Primitives.Hkdf(salt, ikm, info, output);
        return output;
    }

    public static byte[] Expand(byte[] prk, string info, int length)
    {
        var output = new byte[length];
        Primitives.HkdfExpand(prk, Encoding.ASCII.GetBytes(info), output);
        return output;
    }

    public static byte[] Gcm(byte[] key, byte[] nonce, byte[] aad, byte[] plaintext) => Primitives.Seal(key, nonce, aad, plaintext);

    public static byte[] HistoryKeyBody(Guid user, uint generation, byte[] historyPublic) =>
        SpecBytes.Of("CW-hk-v1").Id(user).U32(generation).Raw(historyPublic).ToArray();

    public static byte[] CertificateBody(Guid user, Guid device, byte[] dsk, byte[] ddk, long createdAtMs, uint version) =>
        SpecBytes.Of("CW-devcert-v1").Id(user).Id(device).Raw(dsk).Raw(ddk).U64((ulong)createdAtMs).U32(version).ToArray();

    public static byte[] CertificateHash(byte[] body, byte[] accountSignature) => SHA256.HashData([.. body, .. accountSignature]);

    /// <summary>Base32 (RFC 4648 alphabet) of the first 50 bits of the hash: ten characters, shown "XXXXX-XXXXX".</summary>
    public static string LinkCode(Guid user, Guid device, byte[] dsk, byte[] ddk)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var hash = SHA256.HashData(SpecBytes.Of("CW-link-v1").Id(user).Id(device).Raw(dsk).Raw(ddk).ToArray());
        var first64 = BinaryPrimitives.ReadUInt64BigEndian(hash);
        var code = new StringBuilder();
        for (var i = 0; i < 10; i++)
        {
            code.Append(Alphabet[(int)((first64 >> (64 - (5 * (i + 1)))) & 0x1f)]);
        }

        return code.ToString(0, 5) + "-" + code.ToString(5, 5);
    }

    public static byte[] DeviceListBody(Guid user, ulong version, IEnumerable<(Guid Device, byte[] CertificateHash)> devices)
    {
        var sorted = devices.OrderBy(d => Convert.ToHexString(SpecBytes.IdBytes(d.Device)), StringComparer.Ordinal).ToList();
        var writer = SpecBytes.Of("CW-devlist-v1").Id(user).U64(version).U32((uint)sorted.Count);
        foreach (var (device, hash) in sorted)
        {
            writer.Id(device).Raw(hash);
        }

        return writer.ToArray();
    }

    public static byte[] SignedPrekeyBody(Guid device, uint prekeyId, byte[] prekeyPublic) =>
        SpecBytes.Of("CW-spk-v1").Id(device).U32(prekeyId).Raw(prekeyPublic).ToArray();

    public static byte[] SeedPayload(Guid conversation, ulong epoch, Guid senderUser, Guid senderDevice, Guid chain, uint start, byte[] chainKey, byte[] signingPublic) =>
        new SpecBytes().Id(conversation).U64(epoch).Id(senderUser).Id(senderDevice).Id(chain).U32(start).Raw(chainKey).Raw(signingPublic).ToArray();

    /// <summary>CK_0 of a sender's chain from an epoch secret: HKDF-Expand(PRK = ES, "CW-sender" || sender_device_id || chain_id, 32).</summary>
    public static byte[] EpochSecretChainInfo(Guid senderDevice, Guid chain) => SpecBytes.Of("CW-sender").Id(senderDevice).Id(chain).ToArray();

    /// <summary>One sender-chain step: okm = Expand(CK_i, "CW-sk-msg-v1", 44), CK_{i+1} = Expand(CK_i, "CW-sk-chain-v1", 32).</summary>
    public static (byte[] Key, byte[] Nonce, byte[] Next) ChainStep(byte[] chainKey)
    {
        var okm = Expand(chainKey, "CW-sk-msg-v1", 44);
        return (okm[..32], okm[32..], Expand(chainKey, "CW-sk-chain-v1", 32));
    }

    /// <summary>The chain key of <paramref name="iteration"/> from CK_0.</summary>
    public static byte[] ChainKeyAt(byte[] chainKey0, uint iteration)
    {
        var chainKey = chainKey0;
        for (uint i = 0; i < iteration; i++)
        {
            chainKey = ChainStep(chainKey).Next;
        }

        return chainKey;
    }

    public static byte[] Header(HeaderFields h)
    {
        var flags = (h.ThreadRoot is null ? 0 : 1) | (h.Target is null ? 0 : 2) | (h.MentionsChannel ? 4 : 0) | (h.MentionsHere ? 8 : 0)
            | (h.EpochSecret is null ? 0 : 0x10);
        var writer = new SpecBytes().U8(1).U8(1).U8(h.ContentType).U8(flags)
            .Id(h.Conversation).Id(h.MessageId).Id(h.SenderUser).Id(h.SenderDevice)
            .U64(h.Epoch).Id(h.Chain);
        if (h.EpochSecret is { } secret)
        {
            writer.Id(secret);
        }

        writer.U32(h.Iteration).U64((ulong)h.ClientTimestampMs);
        if (h.ThreadRoot is { } thread)
        {
            writer.Id(thread);
        }

        if (h.Target is { } target)
        {
            writer.Id(target);
        }

        writer.U16(h.Mentions.Count);
        foreach (var mention in h.Mentions)
        {
            writer.Id(mention);
        }

        return writer.Raw(h.Nonce).ToArray();
    }

    public static byte[] EnvelopeAad(byte[] header) => SpecBytes.Of("ChatWire/env/v1").Raw(header).ToArray();

    public static byte[] EnvelopeBody(byte[] ciphertext) => new SpecBytes().U32((uint)ciphertext.Length).Raw(ciphertext).ToArray();

    public static byte[] EnvelopeSignedBytes(byte[] header, byte[] body) => SpecBytes.Of("CW-sig-v1").Raw(header).Raw(body).ToArray();

    /// <summary>Padding: to 256-byte steps up to 4 KiB, then powers of two; 0x80 then zeros.</summary>
    public static byte[] Pad(byte[] plaintext)
    {
        var size = 256;
        while (size < plaintext.Length + 1)
        {
            size = size < 4096 ? size + 256 : size * 2;
        }

        var padded = new byte[size];
        plaintext.CopyTo(padded, 0);
        padded[plaintext.Length] = 0x80;
        return padded;
    }

    public static byte[] SealAad(Guid recipient, uint generation, Guid conversation, ulong epoch, Guid chain, Guid senderDevice) =>
        SpecBytes.Of("CW-seal-v1").Id(recipient).U32(generation).Id(conversation).U64(epoch).Id(chain).Id(senderDevice).ToArray();

    public static byte[] SealSignedBytes(Guid recipient, uint generation, byte[] sealedPart) =>
        SpecBytes.Of("CW-seed-sig-v1").Id(recipient).U32(generation).Raw(sealedPart).ToArray();

    public static byte[] AttachmentNonce(byte[] prefix, uint index, bool last) => new SpecBytes().Raw(prefix).U32(index).U8(last ? 1 : 0).ToArray();

    public static byte[] AttachmentAad(Guid fileId, uint index, bool last) => SpecBytes.Of("CW-att-v1").Id(fileId).U32(index).U8(last ? 1 : 0).ToArray();

    /// <summary>The plaintext of the attachment vectors: byte i is i mod 251 (a prime, so chunks differ).</summary>
    public static byte[] AttachmentPlaintext(int length) => [.. Enumerable.Range(0, length).Select(i => (byte)(i % 251))];

    /// <summary>
    /// The recovery key as shown: RFC 4648 base32 of the 32 bytes (alphabet A-Z 2-7, most significant bit first, the
    /// last character padded with zero bits, no "="), in groups of 4 joined by dashes.
    /// </summary>
    public static string RecoveryKeyText(byte[] key)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var bits = new StringBuilder();
        foreach (var b in key)
        {
            bits.Append(Convert.ToString(b, 2).PadLeft(8, '0'));
        }

        while (bits.Length % 5 != 0)
        {
            bits.Append('0');
        }

        var text = new StringBuilder();
        for (var i = 0; i < bits.Length; i += 5)
        {
            if (i > 0 && i / 5 % 4 == 0)
            {
                text.Append('-');
            }

            text.Append(Alphabet[Convert.ToInt32(bits.ToString(i, 5), 2)]);
        }

        return text.ToString();
    }

    /// <summary>The key bundle (recovery backup and device-link plaintext): ASK private || u16 count || count × (u32 generation || HK private), generations ascending.</summary>
    public static byte[] KeyBundle(byte[] accountPrivate, IReadOnlyList<(uint Generation, byte[] Private)> historyKeys)
    {
        var writer = new SpecBytes().Raw(accountPrivate).U16(historyKeys.Count);
        foreach (var (generation, key) in historyKeys.OrderBy(k => k.Generation))
        {
            writer.U32(generation).Raw(key);
        }

        return writer.ToArray();
    }

    /// <summary>
    /// The attachment descriptor: u8 version(1) || attachment_id || file_id || file_key || nonce_prefix || sha256 ||
    /// u64 ciphertext_size || u64 plaintext_size || u16 mime_len || mime || u32 width || u32 height || u32 thumbnail_len || thumbnail.
    /// </summary>
    public static byte[] AttachmentDescriptor(
        int version, Guid attachmentId, Guid fileId, byte[] fileKey, byte[] noncePrefix, byte[] sha256, ulong ciphertextSize, ulong plaintextSize,
        string mime, uint width, uint height, byte[] thumbnail)
    {
        var mimeBytes = Encoding.UTF8.GetBytes(mime);
        return new SpecBytes().U8(version).Id(attachmentId).Id(fileId).Raw(fileKey).Raw(noncePrefix).Raw(sha256)
            .U64(ciphertextSize).U64(plaintextSize).U16(mimeBytes.Length).Raw(mimeBytes).U32(width).U32(height)
            .U32((uint)thumbnail.Length).Raw(thumbnail).ToArray();
    }

    /// <summary>The message plaintext that carries an attachment: "CW-file-v1" || 0x00 || u16 name_len || name (UTF-8) || descriptor.</summary>
    public static byte[] AttachmentMessage(string fileName, byte[] descriptor)
    {
        var name = Encoding.UTF8.GetBytes(fileName);
        return SpecBytes.Of("CW-file-v1").U8(0).U16(name.Length).Raw(name).Raw(descriptor).ToArray();
    }

    /// <summary>Signal's fingerprint half with SHA-256: h = version(u16 0) || ASK || user_id; 5200 × h = SHA-256(h || ASK); 6 × (5 bytes mod 100000).</summary>
    public static string SafetyNumberHalf(Guid user, byte[] accountKey)
    {
        var hash = new SpecBytes().U16(0).Raw(accountKey).Id(user).ToArray();
        for (var i = 0; i < 5200; i++)
        {
            hash = SHA256.HashData([.. hash, .. accountKey]);
        }

        var digits = new StringBuilder();
        for (var i = 0; i < 6; i++)
        {
            ulong value = 0;
            for (var j = 0; j < 5; j++)
            {
                value = (value << 8) | hash[(i * 5) + j];
            }

            digits.Append((value % 100000).ToString("D5", System.Globalization.CultureInfo.InvariantCulture));
        }

        return digits.ToString();
    }
}

/// <summary>The fields of an envelope header, as the generator varies them.</summary>
internal sealed record HeaderFields(
    int ContentType,
    Guid Conversation,
    Guid MessageId,
    Guid SenderUser,
    Guid SenderDevice,
    ulong Epoch,
    Guid Chain,
    uint Iteration,
    long ClientTimestampMs,
    Guid? ThreadRoot,
    Guid? Target,
    IReadOnlyList<Guid> Mentions,
    bool MentionsChannel,
    bool MentionsHere,
    byte[] Nonce)
{
    /// <summary>The epoch secret id (flags bit 4), written right after the chain id; null for a chain with its own seed.</summary>
    public Guid? EpochSecret { get; init; }
}
