using System.Text;
using System.Text.Json.Nodes;

namespace ChatWire.Crypto.Tests.ChatWireVectors;

internal static partial class VectorGenerator
{
    private const int X3dhVersion = 1;

    /// <summary>The chain's six messages (iterations 0..5), as (name, header fields without iteration and nonce, plaintext).</summary>
    public static IReadOnlyList<(string Name, HeaderFields Fields, byte[] Plaintext)> EnvelopeCases()
    {
        var root = Fixed.MessageId(1);
        HeaderFields Fields(int contentType, int n, Guid? thread = null, Guid? target = null, Guid[]? mentions = null, bool channel = false, bool here = false) =>
            new(contentType, Fixed.Conversation, Fixed.MessageId(n), Fixed.Alice, Fixed.AlicePhone, Fixed.Epoch, Fixed.ChainId, 0,
                Fixed.CreatedAtMs + (n * 1000), thread, target, mentions ?? [], channel, here, []);
        var longText = string.Concat(Enumerable.Repeat("The quarterly report is attached; please review it before Friday. ", 5));
        return
        [
            ("message-mentions-here", Fields(1, 1, mentions: [Fixed.Bob], here: true), Encoding.UTF8.GetBytes("Hello @bob, the build is green.")),
            ("thread-reply", Fields(5, 2, thread: root), Encoding.UTF8.GetBytes("Replying in the thread.")),
            ("edit", Fields(2, 3, target: root, mentions: [Fixed.Bob]), Encoding.UTF8.GetBytes("Hello @bob, the build is green again.")),
            ("reaction", Fields(4, 4, target: root), Encoding.UTF8.GetBytes("\U0001F44D")),
            ("delete", Fields(3, 5, target: root), []),
            ("message-channel-long", Fields(1, 6, channel: true), Encoding.UTF8.GetBytes(longText)),
        ];
    }

    /// <summary>Encrypts and signs one envelope at <paramref name="iteration"/> of the fixed chain.</summary>
    public static BuiltEnvelope BuildEnvelope(HeaderFields template, uint iteration, byte[] plaintext, byte[]? signingPrivate = null)
    {
        var chainKey = Spec.ChainKeyAt(Actors.ChainKey0, iteration);
        var (key, nonce, _) = Spec.ChainStep(chainKey);
        var fields = template with { Iteration = iteration, Nonce = nonce };
        var header = Spec.Header(fields);
        var aad = Spec.EnvelopeAad(header);
        var padded = Spec.Pad(plaintext);
        var ciphertext = Spec.Gcm(key, nonce, aad, padded);
        return Sign(new BuiltEnvelope(fields, plaintext, padded, chainKey, key, header, aad, ciphertext, [], [], []), signingPrivate ?? Actors.ChainSigningPrivate);
    }

    /// <summary>(Re)assembles and signs an envelope from its header and ciphertext as they stand.</summary>
    public static BuiltEnvelope Sign(BuiltEnvelope envelope, byte[] signingPrivate)
    {
        var body = Spec.EnvelopeBody(envelope.Ciphertext);
        var signature = Spec.Sign(signingPrivate, Spec.EnvelopeSignedBytes(envelope.Header, body));
        return envelope with { Body = body, Signature = signature, Bytes = [.. envelope.Header, .. body, .. signature] };
    }

    public static IReadOnlyList<(string Name, BuiltEnvelope Envelope)> BuiltEnvelopes() =>
        [.. EnvelopeCases().Select((c, i) => (c.Name, BuildEnvelope(c.Fields, (uint)i, c.Plaintext)))];

    private static JsonObject SenderChain()
    {
        var iterations = new JsonArray();
        var chainKey = Actors.ChainKey0;
        for (uint i = 0; i <= 5; i++)
        {
            var (key, nonce, next) = Spec.ChainStep(chainKey);
            iterations.Add(new JsonObject
            {
                ["iteration"] = i,
                ["chain_key"] = Hex(chainKey),
                ["message_key"] = Hex(key),
                ["nonce"] = Hex(nonce),
                ["next_chain_key"] = Hex(next),
            });
            chainKey = next;
        }

        return Document(
            "Sender-chain key schedule: okm = HKDF-Expand(CK_i, \"CW-sk-msg-v1\", 44), key = okm[0..32], nonce = okm[32..44]; CK_{i+1} = HKDF-Expand(CK_i, \"CW-sk-chain-v1\", 32).",
            "iterations",
            iterations,
            ("chain_key_0", Hex(Actors.ChainKey0)));
    }

    private static JsonObject Envelopes()
    {
        var items = new JsonArray();
        foreach (var (name, e) in BuiltEnvelopes())
        {
            var f = e.Fields;
            items.Add(new JsonObject
            {
                ["name"] = name,
                ["iteration"] = f.Iteration,
                ["content_type"] = f.ContentType,
                ["message_id"] = Text(f.MessageId),
                ["client_ts_ms"] = f.ClientTimestampMs,
                ["thread_root_id"] = f.ThreadRoot is { } t ? Text(t) : null,
                ["target_message_id"] = f.Target is { } g ? Text(g) : null,
                ["mentions"] = Ids(f.Mentions),
                ["mentions_channel"] = f.MentionsChannel,
                ["mentions_here"] = f.MentionsHere,
                ["plaintext"] = Hex(e.Plaintext),
                ["padded_plaintext"] = Hex(e.Padded),
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

        var chain = new JsonObject
        {
            ["conversation_id"] = Text(Fixed.Conversation),
            ["epoch"] = Fixed.Epoch,
            ["sender_user_id"] = Text(Fixed.Alice),
            ["sender_device_id"] = Text(Fixed.AlicePhone),
            ["chain_id"] = Text(Fixed.ChainId),
            ["chain_key_0"] = Hex(Actors.ChainKey0),
            ["signing_private"] = Hex(Actors.ChainSigningPrivate),
            ["signing_public"] = Hex(Actors.ChainSigningPublic),
            ["seed"] = Hex(Actors.Seed),
        };
        return Document(
            "Envelopes of iterations 0..5 of one sender chain: header, AAD = \"ChatWire/env/v1\" || header, padded plaintext, AES-256-GCM ciphertext, signature by SigK over \"CW-sig-v1\" || header || body, and the envelope bytes.",
            "vectors",
            items,
            ("chain", chain),
            ("window_edge", WindowEdge()));
    }

    // The furthest envelope a receiver that has accepted nothing on the chain still takes: MaxSkip ahead of the next
    // iteration (0). negative.json's out-of-window-iteration is one further.
    private static JsonObject WindowEdge()
    {
        var first = BuiltEnvelopes()[0].Envelope;
        var edge = BuildEnvelope(first.Fields with { MessageId = Fixed.MessageId(94) }, MaxSkip, first.Plaintext);
        return new JsonObject
        {
            ["iteration"] = MaxSkip,
            ["received_before"] = new JsonArray(),
            ["message_id"] = Text(edge.Fields.MessageId),
            ["plaintext"] = Hex(edge.Plaintext),
            ["chain_key"] = Hex(edge.ChainKey),
            ["envelope"] = Hex(edge.Bytes),
        };
    }

    private static JsonObject X3dhVectors()
    {
        JsonArray items = [X3dhVector("with-one-time-prekey", withOneTime: true), X3dhVector("signed-prekey-only", withOneTime: false)];
        return Document(
            "One-shot X3DH from Alice's phone to Bob's phone (see identity.json for their keys); the plaintext is the strict-mode seed of envelope.json's chain.",
            "vectors",
            items);
    }

    public static (byte[] Header, byte[] Aad, byte[] Message) X3dhMessage(byte[] ephemeralPublic, byte[] sk, bool withOneTime, Guid senderDevice)
    {
        var header = new SpecBytes().U8(X3dhVersion).Raw(ephemeralPublic).U32(Actors.SignedPrekeyId).U32(withOneTime ? Actors.OneTimePrekeyId : 0).ToArray();
        var aad = SpecBytes.Of("CW").Raw(Actors.AlicePhone.DhPublic).Raw(Actors.BobPhone.DhPublic)
            .Id(Fixed.Alice).Id(senderDevice).Id(Fixed.Bob).Id(Fixed.BobPhone).Raw(header).ToArray();
        return (header, aad, [.. header, .. Spec.Gcm(sk, new byte[12], aad, Actors.Seed)]);
    }

    private static JsonObject X3dhVector(string name, bool withOneTime)
    {
        var ephemeral = Fixed.Secret(withOneTime ? "x3dh/ek/1" : "x3dh/ek/2");
        var bob = Actors.BobPhone;
        var dh1 = Spec.DhUnchecked(Actors.AlicePhone.DhPrivate, bob.SignedPrekeyPublic);
        var dh2 = Spec.DhUnchecked(ephemeral, bob.DhPublic);
        var dh3 = Spec.DhUnchecked(ephemeral, bob.SignedPrekeyPublic);
        byte[]? dh4 = withOneTime ? Spec.DhUnchecked(ephemeral, bob.OneTimePrekeyPublic) : null;
        byte[] ikm = [.. dh1, .. dh2, .. dh3, .. dh4 ?? []];
        var sk = Spec.Hkdf(new byte[32], ikm, "ChatWire-X3DH-v1", 32);
        var (header, aad, message) = X3dhMessage(Spec.X25519Public(ephemeral), sk, withOneTime, Fixed.AlicePhone);
        return new JsonObject
        {
            ["name"] = name,
            ["initiator_user_id"] = Text(Fixed.Alice),
            ["initiator_device_id"] = Text(Fixed.AlicePhone),
            ["initiator_dh_public"] = Hex(Actors.AlicePhone.DhPublic),
            ["responder_user_id"] = Text(Fixed.Bob),
            ["responder_device_id"] = Text(Fixed.BobPhone),
            ["responder_dh_public"] = Hex(bob.DhPublic),
            ["signed_prekey_id"] = Actors.SignedPrekeyId,
            ["one_time_prekey_id"] = withOneTime ? Actors.OneTimePrekeyId : 0,
            ["ephemeral_private"] = Hex(ephemeral),
            ["ephemeral_public"] = Hex(Spec.X25519Public(ephemeral)),
            ["dh1"] = Hex(dh1),
            ["dh2"] = Hex(dh2),
            ["dh3"] = Hex(dh3),
            ["dh4"] = dh4 is null ? null : Hex(dh4),
            ["sk"] = Hex(sk),
            ["header"] = Hex(header),
            ["associated_data"] = Hex(aad),
            ["plaintext"] = Hex(Actors.Seed),
            ["message"] = Hex(message),
        };
    }

    private static JsonObject HistorySeals()
    {
        JsonArray items = [HistorySeal("to-bob", Actors.BobUser, "seal/ek/bob"), HistorySeal("to-sender-own-user", Actors.AliceUser, "seal/ek/alice")];
        return Document(
            "History-mode seals of envelope.json's chain seed to a user's history key, signed by the sender device's DSK (Alice's phone).",
            "vectors",
            items);
    }

    public static byte[] SealedBlob(byte[] ephemeralPublic, byte[] ciphertext, UserActor recipient)
    {
        byte[] sealedPart = [.. ephemeralPublic, .. ciphertext];
        var signature = Spec.Sign(Actors.AlicePhone.SigningPrivate, Spec.SealSignedBytes(recipient.UserId, recipient.HistoryGeneration, sealedPart));
        return [.. sealedPart, .. signature];
    }

    private static JsonObject HistorySeal(string name, UserActor recipient, string ephemeralName)
    {
        var ephemeral = Fixed.Secret(ephemeralName);
        var ephemeralPublic = Spec.X25519Public(ephemeral);
        var shared = Spec.DhUnchecked(ephemeral, recipient.HistoryPublic);
        byte[] salt = [.. ephemeralPublic, .. recipient.HistoryPublic];
        var key = Spec.Hkdf(salt, shared, "CW-seal-v1", 32);
        var aad = Spec.SealAad(recipient.UserId, recipient.HistoryGeneration, Fixed.Conversation, Fixed.Epoch, Fixed.ChainId, Fixed.AlicePhone);
        var ciphertext = Spec.Gcm(key, new byte[12], aad, Actors.Seed);
        var sealedBlob = SealedBlob(ephemeralPublic, ciphertext, recipient);
        return new JsonObject
        {
            ["name"] = name,
            ["recipient_user_id"] = Text(recipient.UserId),
            ["history_key_generation"] = recipient.HistoryGeneration,
            ["history_private"] = Hex(recipient.HistoryPrivate),
            ["history_public"] = Hex(recipient.HistoryPublic),
            ["sender_user_id"] = Text(Fixed.Alice),
            ["sender_device_id"] = Text(Fixed.AlicePhone),
            ["sender_signing_public"] = Hex(Actors.AlicePhone.SigningPublic),
            ["conversation_id"] = Text(Fixed.Conversation),
            ["epoch"] = Fixed.Epoch,
            ["chain_id"] = Text(Fixed.ChainId),
            ["seed"] = Hex(Actors.Seed),
            ["ephemeral_private"] = Hex(ephemeral),
            ["ephemeral_public"] = Hex(ephemeralPublic),
            ["shared"] = Hex(shared),
            ["key"] = Hex(key),
            ["associated_data"] = Hex(aad),
            ["ciphertext"] = Hex(ciphertext),
            ["signed_bytes"] = Hex(Spec.SealSignedBytes(recipient.UserId, recipient.HistoryGeneration, [.. ephemeralPublic, .. ciphertext])),
            ["sealed"] = Hex(sealedBlob),
        };
    }
}

/// <summary>An envelope the generator made, with every intermediate value.</summary>
internal sealed record BuiltEnvelope(
    HeaderFields Fields,
    byte[] Plaintext,
    byte[] Padded,
    byte[] ChainKey,
    byte[] MessageKey,
    byte[] Header,
    byte[] Aad,
    byte[] Ciphertext,
    byte[] Body,
    byte[] Signature,
    byte[] Bytes);
