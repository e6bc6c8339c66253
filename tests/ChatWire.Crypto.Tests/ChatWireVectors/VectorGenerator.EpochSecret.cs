using System.Text;
using System.Text.Json.Nodes;

namespace ChatWire.Crypto.Tests.ChatWireVectors;

internal static partial class VectorGenerator
{
    public static readonly Guid EpochSecretId = Guid.Parse("3c9a1e57-8b2d-4f60-9e13-a7b4c5d6e7f8");
    public static readonly Guid AliceEsChain = Guid.Parse("7a6b5c4d-3e2f-4011-8213-141516171819");
    public static readonly Guid BobEsChain = Guid.Parse("b0b0c4a1-0000-4000-8000-00000000b0b1");

    public static byte[] EpochSecret => Fixed.Secret("epoch-secret/es");

    /// <summary>The epoch secret's payload: a seed payload with chain_id = secret id, start 0, CK_start = ES, SigK_pub = 32 zero bytes.</summary>
    public static byte[] EpochSecretPayload => Spec.SeedPayload(Fixed.Conversation, Fixed.Epoch, Fixed.Alice, Fixed.AlicePhone, EpochSecretId, 0, EpochSecret, new byte[32]);

    public static byte[] EpochSecretChainKey0(Guid senderDevice, Guid chain)
    {
        var output = new byte[32];
        Primitives.HkdfExpand(EpochSecret, Spec.EpochSecretChainInfo(senderDevice, chain), output);
        return output;
    }

    /// <summary>Alice's phone (iterations 0 and 1 of its chain) and Bob's phone (iteration 0), each on a chain derived from the epoch secret.</summary>
    public static IReadOnlyList<(string Name, DeviceActor Sender, BuiltEnvelope Envelope)> EpochSecretEnvelopes()
    {
        HeaderFields Fields(Guid user, Guid device, Guid chain, int n, Guid[]? mentions = null) =>
            new HeaderFields(1, Fixed.Conversation, Fixed.MessageId(n), user, device, Fixed.Epoch, chain, 0, Fixed.CreatedAtMs + (n * 1000), null, null, mentions ?? [], false, false, [])
            { EpochSecret = EpochSecretId };
        return
        [
            ("alice-phone-0", Actors.AlicePhone, BuildEpochSecretEnvelope(Fields(Fixed.Alice, Fixed.AlicePhone, AliceEsChain, 11, [Fixed.Bob]), 0, Encoding.UTF8.GetBytes("Welcome to the big channel, @bob."), Actors.AlicePhone.SigningPrivate)),
            ("alice-phone-1", Actors.AlicePhone, BuildEpochSecretEnvelope(Fields(Fixed.Alice, Fixed.AlicePhone, AliceEsChain, 12), 1, Encoding.UTF8.GetBytes("Same chain, next iteration."), Actors.AlicePhone.SigningPrivate)),
            ("bob-phone-0", Actors.BobPhone, BuildEpochSecretEnvelope(Fields(Fixed.Bob, Fixed.BobPhone, BobEsChain, 13), 0, Encoding.UTF8.GetBytes("Bob sends under Alice's epoch secret."), Actors.BobPhone.SigningPrivate)),
        ];
    }

    /// <summary>Encrypts at <paramref name="iteration"/> of the sender's epoch-secret chain and signs with <paramref name="signingPrivate"/> (a DSK).</summary>
    public static BuiltEnvelope BuildEpochSecretEnvelope(HeaderFields template, uint iteration, byte[] plaintext, byte[] signingPrivate)
    {
        var chainKey = Spec.ChainKeyAt(EpochSecretChainKey0(template.SenderDevice, template.Chain), iteration);
        var (key, nonce, _) = Spec.ChainStep(chainKey);
        var fields = template with { Iteration = iteration, Nonce = nonce };
        var header = Spec.Header(fields);
        var aad = Spec.EnvelopeAad(header);
        var padded = Spec.Pad(plaintext);
        var ciphertext = Spec.Gcm(key, nonce, aad, padded);
        return Sign(new BuiltEnvelope(fields, plaintext, padded, chainKey, key, header, aad, ciphertext, [], [], []), signingPrivate);
    }

    private static JsonObject EpochSecretVectors()
    {
        var items = new JsonArray();
        foreach (var (name, sender, e) in EpochSecretEnvelopes())
        {
            var f = e.Fields;
            items.Add(new JsonObject
            {
                ["name"] = name,
                ["sender_user_id"] = Text(f.SenderUser),
                ["sender_device_id"] = Text(f.SenderDevice),
                ["sender_signing_public"] = Hex(sender.SigningPublic),
                ["chain_id"] = Text(f.Chain),
                ["chain_info"] = Hex(Spec.EpochSecretChainInfo(f.SenderDevice, f.Chain)),
                ["chain_key_0"] = Hex(EpochSecretChainKey0(f.SenderDevice, f.Chain)),
                ["iteration"] = f.Iteration,
                ["content_type"] = f.ContentType,
                ["message_id"] = Text(f.MessageId),
                ["client_ts_ms"] = f.ClientTimestampMs,
                ["mentions"] = Ids(f.Mentions),
                ["plaintext"] = Hex(e.Plaintext),
                ["chain_key"] = Hex(e.ChainKey),
                ["message_key"] = Hex(e.MessageKey),
                ["nonce"] = Hex(f.Nonce),
                ["header"] = Hex(e.Header),
                ["associated_data"] = Hex(e.Aad),
                ["ciphertext"] = Hex(e.Ciphertext),
                ["signature"] = Hex(e.Signature),
                ["envelope"] = Hex(e.Bytes),
            });
        }

        var bob = Actors.BobUser;
        var ephemeral = Fixed.Secret("seal/ek/bob-es");
        var ephemeralPublic = Spec.X25519Public(ephemeral);
        var key = Spec.Hkdf([.. ephemeralPublic, .. bob.HistoryPublic], Spec.DhUnchecked(ephemeral, bob.HistoryPublic), "CW-seal-v1", 32);
        var aad = Spec.SealAad(bob.UserId, bob.HistoryGeneration, Fixed.Conversation, Fixed.Epoch, EpochSecretId, Fixed.AlicePhone);
        var sealedToBob = SealedBlob(ephemeralPublic, Spec.Gcm(key, new byte[12], aad, EpochSecretPayload), bob);
        var secret = new JsonObject
        {
            ["conversation_id"] = Text(Fixed.Conversation),
            ["epoch"] = Fixed.Epoch,
            ["secret_id"] = Text(EpochSecretId),
            ["epoch_secret"] = Hex(EpochSecret),
            ["creator_user_id"] = Text(Fixed.Alice),
            ["creator_device_id"] = Text(Fixed.AlicePhone),
            ["payload"] = Hex(EpochSecretPayload),
            ["sealed_to_bob"] = new JsonObject
            {
                ["recipient_user_id"] = Text(bob.UserId),
                ["history_key_generation"] = bob.HistoryGeneration,
                ["ephemeral_private"] = Hex(ephemeral),
                ["associated_data"] = Hex(aad),
                ["sealed"] = Hex(sealedToBob),
            },
        };
        return Document(
            "An epoch secret (option L2) made by Alice's phone, its payload and its history seal to Bob, and envelopes on chains derived from it: CK_0 = HKDF-Expand(ES, \"CW-sender\" || sender_device_id || chain_id, 32); flag 0x10, epoch_secret_id after chain_id, signature by the sender's DSK.",
            "vectors",
            items,
            ("secret", secret));
    }

    private static IEnumerable<JsonObject> EpochSecretNegatives()
    {
        var built = EpochSecretEnvelopes().ToDictionary(b => b.Name, b => b.Envelope);
        var first = built["alice-phone-0"];
        var second = built["alice-phone-1"];
        var alice = Actors.AlicePhone;

        var cleared = second.Fields with { EpochSecret = null };
        yield return EpochSecretNegative("es-flag-cleared", Reassemble(second, cleared, alice.SigningPrivate, resign: false), "BadSignature",
            "Flag 0x10 cleared and epoch_secret_id taken out: the chain is held, derived from the secret, and has no SigK to verify a plain envelope.", ["alice-phone-0"], alice.SigningPublic);
        yield return EpochSecretNegative("es-secret-id-unknown", Reassemble(first, first.Fields with { EpochSecret = Guid.Parse("00000000-0000-4000-8000-0000000dead5") }, alice.SigningPrivate, resign: false), "NoKeyForChain",
            "The receiver holds no epoch secret with that id.", [], alice.SigningPublic);
        yield return EpochSecretNegative("es-signed-by-other-device", Sign(second, Actors.BobPhone.SigningPrivate).Bytes, "BadSignature",
            "Every member can derive Alice's chain from the secret; only Alice's device key signs for it (here Bob's device signed).", ["alice-phone-0"], alice.SigningPublic);
        yield return EpochSecretNegative("es-sender-key-unknown", first.Bytes, "UnknownSenderDevice",
            "The receiver has no verified DSK for the sender device (not on its account-signed device list).", [], null);
        yield return EpochSecretNegative("es-chain-id-altered-resigned", Reassemble(first, first.Fields with { Chain = BobEsChain }, alice.SigningPrivate, resign: true), "NonceMismatch",
            "Re-signed by the sender, another chain id derives another chain, whose nonce is not the header's.", [], alice.SigningPublic);
    }

    private static byte[] Reassemble(BuiltEnvelope envelope, HeaderFields fields, byte[] signingPrivate, bool resign)
    {
        var header = Spec.Header(fields);
        var body = Spec.EnvelopeBody(envelope.Ciphertext);
        var signature = resign ? Spec.Sign(signingPrivate, Spec.EnvelopeSignedBytes(header, body)) : envelope.Signature;
        return [.. header, .. body, .. signature];
    }

    private static JsonObject EpochSecretNegative(string name, byte[] envelope, string error, string reason, string[] before, byte[]? senderSigningPublic) => new()
    {
        ["name"] = name,
        ["kind"] = "epoch-secret-envelope",
        ["base"] = "epoch-secret.json",
        ["error"] = error,
        ["reason"] = reason,
        ["received_before"] = new JsonArray([.. before.Select(b => (JsonNode)b)]),
        ["delivered_conversation_id"] = Text(Fixed.Conversation),
        ["delivered_sender_user_id"] = Text(Fixed.Alice),
        ["sender_signing_public"] = senderSigningPublic is null ? null : Hex(senderSigningPublic),
        ["envelope"] = Hex(envelope),
    };
}
