using System.Text.Json.Nodes;

namespace ChatWire.Crypto.Tests.ChatWireVectors;

internal static partial class VectorGenerator
{
    /// <summary>The receiver's skipped-key window (InboundChain.MaxSkip): an iteration further ahead is refused.</summary>
    public const uint MaxSkip = 2000;

    private static JsonObject Negatives()
    {
        JsonArray items = [.. EnvelopeNegatives(), .. SealNegatives(), .. X3dhNegatives(), .. DeviceListNegatives(), .. AttachmentNegatives(), .. EpochSecretNegatives(), .. RecoveryNegatives()];
        return Document(
            "Inputs that must be refused, each with the reason (a ChatWire.Crypto CryptoError name, or NotOnDeviceList). \"base\" names the positive vector whose keys and context apply.",
            "vectors",
            items);
    }

    private static IEnumerable<JsonObject> EnvelopeNegatives()
    {
        var built = BuiltEnvelopes().ToDictionary(b => b.Name, b => b.Envelope);
        var first = built["message-mentions-here"];
        var edit = built["edit"];
        var reply = built["thread-reply"];

        yield return Altered("conversation-id-altered", first, f => f with { Conversation = Fixed.OtherConversation }, resign: false, "WrongConversation",
            "The server re-routed the envelope to another conversation: the receiver's chain belongs to the original one.", deliveredIn: Fixed.OtherConversation);
        yield return Altered("message-id-altered", first, f => f with { MessageId = Fixed.MessageId(90) }, resign: false, "BadSignature",
            "The message id is covered by the chain signature.");
        yield return Altered("message-id-altered-resigned", first, f => f with { MessageId = Fixed.MessageId(90) }, resign: true, "DecryptionFailed",
            "Even re-signed by SigK, the message id is bound into the AES-GCM associated data.");
        yield return Altered("sender-altered", first, f => f with { SenderUser = Fixed.Bob }, resign: false, "WrongSender",
            "The envelope claims another sender than the one the chain was distributed by.", deliveredFrom: Fixed.Bob);
        yield return Altered("epoch-altered", first, f => f with { Epoch = Fixed.Epoch + 1 }, resign: false, "WrongConversation",
            "The chain belongs to epoch 3; an envelope naming it under another epoch is refused.");
        yield return Altered("chain-id-altered", first, f => f with { Chain = Guid.Parse("00000000-0000-4000-8000-00000000dead") }, resign: false, "NoKeyForChain",
            "The receiver holds no chain with that id.");
        yield return Altered("iteration-altered", first, f => f with { Iteration = 1 }, resign: false, "BadSignature",
            "The iteration is covered by the chain signature.");
        yield return Altered("iteration-altered-resigned", first, f => f with { Iteration = 1 }, resign: true, "NonceMismatch",
            "Re-signed, the header's nonce is no longer the one iteration 1 derives.");
        yield return Altered("mentions-altered", first, f => f with { Mentions = [Fixed.Bob, Fixed.Alice] }, resign: false, "BadSignature",
            "The mention list is covered by the chain signature.");
        yield return Altered("mentions-altered-resigned", first, f => f with { Mentions = [Fixed.Bob, Fixed.Alice] }, resign: true, "DecryptionFailed",
            "The mention list is bound into the associated data.");
        yield return Altered("content-type-altered", edit, f => f with { ContentType = 3 }, resign: false, "BadSignature",
            "An edit presented as a deletion: the content type is covered by the chain signature.", before: ["message-mentions-here", "thread-reply"]);
        yield return Altered("content-type-altered-resigned", edit, f => f with { ContentType = 3 }, resign: true, "DecryptionFailed",
            "The content type is bound into the associated data.", before: ["message-mentions-here", "thread-reply"]);
        yield return Altered("thread-root-altered", reply, f => f with { ThreadRoot = Fixed.MessageId(91) }, resign: false, "BadSignature",
            "The thread root is covered by the chain signature.", before: ["message-mentions-here"]);
        yield return Altered("thread-root-altered-resigned", reply, f => f with { ThreadRoot = Fixed.MessageId(91) }, resign: true, "DecryptionFailed",
            "The thread root is bound into the associated data.", before: ["message-mentions-here"]);

        yield return EnvelopeNegative("replayed-envelope", first.Bytes, "Replay",
            "The same envelope delivered twice (at-least-once delivery): accepted once only.", ["message-mentions-here"]);
        var sameIteration = BuildEnvelope(first.Fields with { MessageId = Fixed.MessageId(92) }, 0, first.Plaintext);
        yield return EnvelopeNegative("replayed-iteration", sameIteration.Bytes, "Replay",
            "A second message on an iteration already used (a new message id, signed by SigK): a message key decrypts once.", ["message-mentions-here"]);
        var farAhead = BuildEnvelope(first.Fields with { MessageId = Fixed.MessageId(93) }, MaxSkip + 1, first.Plaintext);
        yield return EnvelopeNegative("out-of-window-iteration", farAhead.Bytes, "OutOfWindow",
            $"Iteration {MaxSkip + 1} is more than {MaxSkip} ahead of the chain (the skipped-key window).", []);
        var truncated = Sign(first with { Ciphertext = first.Ciphertext[..^1] }, Actors.ChainSigningPrivate);
        yield return EnvelopeNegative("truncated-tag", truncated.Bytes, "DecryptionFailed",
            "The last byte of the tag is cut off (ct_len adjusted, re-signed by SigK): AES-GCM authentication fails.", []);
        byte[] flipped = [.. first.Bytes];
        flipped[^64] ^= 0x01;
        yield return EnvelopeNegative("bad-signature", flipped, "BadSignature", "One bit of the signature flipped.", []);
        var forged = Sign(first, Fixed.Secret("mallory/sigk"));
        yield return EnvelopeNegative("signed-by-other-key", forged.Bytes, "BadSignature",
            "A member holding the chain key (but not SigK) re-signs with its own key: only SigK's signature is accepted.", []);
    }

    private static JsonObject Altered(
        string name, BuiltEnvelope original, Func<HeaderFields, HeaderFields> change, bool resign, string error, string reason,
        Guid? deliveredIn = null, Guid? deliveredFrom = null, string[]? before = null)
    {
        var fields = change(original.Fields);
        var header = Spec.Header(fields);
        byte[] bytes = resign
            ? Sign(original with { Fields = fields, Header = header }, Actors.ChainSigningPrivate).Bytes
            : [.. header, .. original.Body, .. original.Signature];
        return EnvelopeNegative(name, bytes, error, reason, before ?? [], deliveredIn, deliveredFrom);
    }

    private static JsonObject EnvelopeNegative(string name, byte[] envelope, string error, string reason, string[] before, Guid? deliveredIn = null, Guid? deliveredFrom = null) => new()
    {
        ["name"] = name,
        ["kind"] = "envelope",
        ["base"] = "envelope.json",
        ["error"] = error,
        ["reason"] = reason,
        ["received_before"] = new JsonArray([.. before.Select(b => (JsonNode)b)]),
        ["delivered_conversation_id"] = Text(deliveredIn ?? Fixed.Conversation),
        ["delivered_sender_user_id"] = Text(deliveredFrom ?? Fixed.Alice),
        ["envelope"] = Hex(envelope),
    };

    private static IEnumerable<JsonObject> SealNegatives()
    {
        var sealedBlob = Convert.FromHexString((string)HistorySeals()["vectors"]![0]!["sealed"]!);
        var ciphertext = sealedBlob[32..^64];
        yield return SealNegative("seal-all-zero-dh", SealedBlob(Fixed.LowOrderPoint(), ciphertext, Actors.BobUser), Fixed.Conversation, "AllZeroSharedSecret",
            "The ephemeral key is a low-order point (signed by the sender device): DH(HK, EK) is all-zero and refused.");
        byte[] badSignature = [.. sealedBlob];
        badSignature[^1] ^= 0x80;
        yield return SealNegative("seal-bad-signature", badSignature, Fixed.Conversation, "BadSignature",
            "The seal's signature by the sender's DSK does not verify.");
        yield return SealNegative("seal-other-conversation", sealedBlob, Fixed.OtherConversation, "DecryptionFailed",
            "The key-bundle entry names another conversation; the seal's associated data binds the conversation.");
    }

    private static JsonObject SealNegative(string name, byte[] sealedBlob, Guid conversation, string error, string reason) => new()
    {
        ["name"] = name,
        ["kind"] = "history-seal",
        ["base"] = "history-seal.json#to-bob",
        ["error"] = error,
        ["reason"] = reason,
        ["conversation_id"] = Text(conversation),
        ["sealed"] = Hex(sealedBlob),
    };

    private static IEnumerable<JsonObject> X3dhNegatives()
    {
        var message = Convert.FromHexString((string)X3dhVectors()["vectors"]![0]!["message"]!);
        byte[] lowOrder = [.. message];
        Fixed.LowOrderPoint().CopyTo(lowOrder, 1);
        yield return X3dhNegative("x3dh-all-zero-dh", lowOrder, Fixed.AlicePhone, "AllZeroSharedSecret",
            "The ephemeral key in the header is a low-order point: DH2 is all-zero and refused.");
        yield return X3dhNegative("x3dh-other-sender-device", message, Fixed.AliceLaptop, "DecryptionFailed",
            "Opened as if from Alice's laptop: the associated data binds the sender's user and device ids.");

        var bob = Actors.BobPhone;
        var spkSignature = Spec.Sign(bob.SigningPrivate, Spec.SignedPrekeyBody(Fixed.BobPhone, Actors.SignedPrekeyId, bob.SignedPrekeyPublic));
        yield return PrekeyNegative("bad-spk-signature", Spec.X25519Public(Fixed.Secret("mallory/spk")), spkSignature, "BadSignature",
            "The server substituted the signed prekey; the signature by Bob's DSK is over the real one.");
        var lowOrderSignature = Spec.Sign(bob.SigningPrivate, Spec.SignedPrekeyBody(Fixed.BobPhone, Actors.SignedPrekeyId, Fixed.LowOrderPoint()));
        yield return PrekeyNegative("low-order-signed-prekey", Fixed.LowOrderPoint(), lowOrderSignature, "AllZeroSharedSecret",
            "A correctly signed prekey that is a low-order point: DH1 is all-zero and the initiator refuses.");
    }

    private static JsonObject X3dhNegative(string name, byte[] message, Guid initiatorDevice, string error, string reason) => new()
    {
        ["name"] = name,
        ["kind"] = "x3dh",
        ["base"] = "x3dh.json#with-one-time-prekey",
        ["error"] = error,
        ["reason"] = reason,
        ["initiator_device_id"] = Text(initiatorDevice),
        ["message"] = Hex(message),
    };

    private static JsonObject PrekeyNegative(string name, byte[] prekeyPublic, byte[] signature, string error, string reason) => new()
    {
        ["name"] = name,
        ["kind"] = "prekey-bundle",
        ["base"] = "identity.json#bob/phone",
        ["error"] = error,
        ["reason"] = reason,
        ["signed_prekey"] = new JsonObject
        {
            ["prekey_id"] = Actors.SignedPrekeyId,
            ["public"] = Hex(prekeyPublic),
            ["signature"] = Hex(signature),
        },
    };

    private static IEnumerable<JsonObject> DeviceListNegatives()
    {
        var alice = Actors.AliceUser;
        var phone = alice.Devices[0];
        var laptop = alice.Devices[1];
        var tablet = alice.Devices[2];
        var v3Body = Spec.DeviceListBody(alice.UserId, 3, [(phone.DeviceId, phone.CertificateHash), (laptop.DeviceId, laptop.CertificateHash)]);
        var v3Signature = Spec.Sign(alice.AccountPrivate, v3Body);
        var v2Body = Spec.DeviceListBody(alice.UserId, 2, [(phone.DeviceId, phone.CertificateHash)]);

        yield return DeviceListNegative("device-not-on-list", 3, [phone, laptop], v3Signature, null, tablet, null, "NotOnDeviceList",
            "The tablet's certificate is approved by Alice's account key but not on her signed device list v3: it is never given keys.");
        yield return DeviceListNegative("device-certificate-substituted", 3, [phone, laptop], v3Signature, null, laptop, Spec.X25519Public(Fixed.Secret("mallory/ddk")), "BadSignature",
            "The server swapped the laptop's DH key: neither certificate signature verifies (and its hash is not the listed one).");
        yield return DeviceListNegative("device-list-rollback", 2, [phone], Spec.Sign(alice.AccountPrivate, v2Body), 3, null, null, "Rollback",
            "A correctly signed list of version 2 after version 3 was seen: the laptop would silently drop out.");
        yield return DeviceListNegative("device-list-extra-device", 3, [phone, laptop, tablet], v3Signature, null, null, null, "BadSignature",
            "The server added the tablet to list v3 under the original signature.");
    }

    private static JsonObject DeviceListNegative(
        string name, ulong version, DeviceActor[] listed, byte[] signature, ulong? highestSeen, DeviceActor? certificate, byte[]? substitutedDh, string error, string reason)
    {
        var node = new JsonObject
        {
            ["name"] = name,
            ["kind"] = "device-list",
            ["base"] = "identity.json#alice",
            ["error"] = error,
            ["reason"] = reason,
            ["list"] = new JsonObject
            {
                ["version"] = version,
                ["devices"] = new JsonArray([.. listed.Select(d => (JsonNode)new JsonObject
                {
                    ["device_id"] = Text(d.DeviceId),
                    ["certificate_hash"] = Hex(d.CertificateHash),
                })]),
                ["signature"] = Hex(signature),
            },
            ["highest_version_seen"] = highestSeen,
        };
        if (certificate is not null)
        {
            node["certificate"] = new JsonObject
            {
                ["device_id"] = Text(certificate.DeviceId),
                ["signing_public"] = Hex(certificate.SigningPublic),
                ["dh_public"] = Hex(substitutedDh ?? certificate.DhPublic),
                ["created_at_ms"] = Fixed.CreatedAtMs,
                ["certificate_version"] = 1,
                ["self_signature"] = Hex(certificate.SelfSignature),
                ["account_signature"] = Hex(certificate.AccountSignature),
            };
        }

        return node;
    }

    /// <summary>The chunks of attachment.json's "two-chunks" vector, as the server could serve them altered.</summary>
    public static IReadOnlyList<byte[]> TwoChunkCiphertext()
    {
        var fileKey = Fixed.Secret("attachment/file-key");
        var prefix = Fixed.Secret("attachment/nonce-prefix")[..7];
        var plaintext = Spec.AttachmentPlaintext(Spec.ChunkSize + 1000);
        return
        [
            Spec.Gcm(fileKey, Spec.AttachmentNonce(prefix, 0, false), Spec.AttachmentAad(Fixed.FileId, 0, false), plaintext[..Spec.ChunkSize]),
            Spec.Gcm(fileKey, Spec.AttachmentNonce(prefix, 1, true), Spec.AttachmentAad(Fixed.FileId, 1, true), plaintext[Spec.ChunkSize..]),
        ];
    }

    /// <summary>Applies a named alteration to the two-chunk ciphertext (see docs/e2e.md, "Test vectors").</summary>
    public static byte[] AlterAttachment(string operation)
    {
        var chunks = TwoChunkCiphertext();
        return operation switch
        {
            "drop-last-chunk" => chunks[0],
            "swap-chunks" => [.. chunks[1], .. chunks[0]],
            "flip-first-bit" => [(byte)(chunks[0][0] ^ 0x01), .. chunks[0][1..], .. chunks[1]],
            _ => throw new ArgumentOutOfRangeException(nameof(operation)),
        };
    }

    private static IEnumerable<JsonObject> AttachmentNegatives()
    {
        (string Operation, string Reason)[] cases =
        [
            ("drop-last-chunk", "The server serves the first chunk only: it was encrypted with last = 0, so it does not decrypt as the last one."),
            ("swap-chunks", "The chunks in the wrong order: each chunk's index is in its nonce and associated data."),
            ("flip-first-bit", "One bit of the first chunk's ciphertext flipped."),
        ];
        foreach (var (operation, reason) in cases)
        {
            yield return new JsonObject
            {
                ["name"] = "attachment-" + operation,
                ["kind"] = "attachment",
                ["base"] = "attachment.json#two-chunks",
                ["error"] = "AttachmentMismatch",
                ["reason"] = reason,
                ["operation"] = operation,
                ["ciphertext_length"] = AlterAttachment(operation).Length,
                ["ciphertext_sha256"] = Hex(System.Security.Cryptography.SHA256.HashData(AlterAttachment(operation))),
            };
        }
    }
}
