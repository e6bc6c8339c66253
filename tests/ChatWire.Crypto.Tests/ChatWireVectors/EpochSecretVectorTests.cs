using System.Text.Json.Nodes;

namespace ChatWire.Crypto.Tests.ChatWireVectors;

/// <summary>The library against epoch-secret.json (option L2).</summary>
public sealed class EpochSecretVectorTests
{
    [Fact]
    public void EpochSecret_Payload_DecodesAsEpochSecretAndSealOpensForBob()
    {
        var secret = VectorFile.Load("epoch-secret.json")["secret"]!;
        var payload = SeedPayload.Decode(secret.Bytes("payload"));
        var seal = secret["sealed_to_bob"]!;
        var bob = VectorFile.Load("history-seal.json")["vectors"]!.AsArray().Single(v => v!.Str("name") == "to-bob")!;

        Assert.True(payload.IsEpochSecret);
        Assert.Equal(secret.Bytes("payload"), SeedPayload.ForEpochSecret(
            secret.Id("conversation_id"), (ulong)secret["epoch"]!, secret.Id("creator_user_id"), secret.Id("creator_device_id"), secret.Id("secret_id"), secret.Bytes("epoch_secret")).Encode());
        var opened = SeedSeal.OpenFromHistoryKey(
            seal.Bytes("sealed"),
            seal.Id("recipient_user_id"),
            HistoryKey.FromPrivateKey((uint)seal["history_key_generation"]!, bob.Bytes("history_private")),
            secret.Id("conversation_id"),
            (ulong)secret["epoch"]!,
            secret.Id("secret_id"),
            secret.Id("creator_user_id"),
            secret.Id("creator_device_id"),
            bob.Bytes("sender_signing_public"));
        Assert.Equal(secret.Bytes("payload"), opened.Encode());
    }

    [Fact]
    public void EpochSecret_EveryVector_ChainDerivedAndEnvelopeReproducedByteForByte()
    {
        var document = VectorFile.Load("epoch-secret.json");
        var secret = EpochSecretState.FromSeed(SeedPayload.Decode(document["secret"]!.Bytes("payload")));
        var identities = Devices();

        foreach (var vector in VectorFile.Items(document, "vectors", 3))
        {
            var device = vector!.Id("sender_device_id");
            Assert.Equal(vector.Bytes("chain_key_0"), ChainKdf.FromEpochSecret(secret.Secret, device, vector.Id("chain_id")));
            var outbound = new OutboundChain
            {
                ConversationId = secret.ConversationId,
                Epoch = secret.Epoch,
                SenderUserId = vector.Id("sender_user_id"),
                SenderDeviceId = device,
                ChainId = vector.Id("chain_id"),
                EpochSecretId = secret.SecretId,
                SigningPrivateKey = [],
                SigningPublicKey = [],
                CreatedAtMs = 0,
                Iteration = (uint)vector["iteration"]!,
                ChainKey = vector.Bytes("chain_key"),
            };

            var envelope = MessageCipher.Encrypt(outbound, Header(vector, secret), vector.Bytes("plaintext"), identities[device]);

            Assert.Equal(vector.Bytes("envelope"), envelope);
            Assert.Equal(vector.Bytes("header"), Envelope.EncodeHeader(Envelope.Parse(envelope).Header));
        }
    }

    [Fact]
    public void EpochSecret_EveryVectorInOrder_DecryptsWithSecretAndSenderDsk()
    {
        var document = VectorFile.Load("epoch-secret.json");
        var receiver = new Receiver(document);

        foreach (var vector in VectorFile.Items(document, "vectors", 3))
        {
            var result = receiver.Decrypt(vector!.Bytes("envelope"), vector.Id("sender_user_id"), vector.Bytes("sender_signing_public"));

            Assert.True(result.Succeeded, $"{vector.Str("name")}: {result.Error} {result.Reason}");
            Assert.Equal(vector.Bytes("plaintext"), result.Plaintext);
            Assert.Equal(receiver.Secret.SecretId, result.Header!.EpochSecretId);
        }
    }

    /// <summary>A receiver holding epoch-secret.json's secret and the chains it derived so far.</summary>
    internal sealed class Receiver(JsonObject document)
    {
        private readonly Dictionary<Guid, InboundChain> _chains = [];

        public EpochSecretState Secret { get; } = EpochSecretState.FromSeed(SeedPayload.Decode(document["secret"]!.Bytes("payload")));

        public DecryptResult Decrypt(byte[] envelope, Guid deliveredFrom, byte[]? senderSigningPublic, Guid? deliveredIn = null)
        {
            var result = MessageCipher.Decrypt(
                envelope,
                deliveredIn ?? Secret.ConversationId,
                deliveredFrom,
                id => _chains.GetValueOrDefault(id),
                _ => false,
                out var changed,
                new EpochSecretKeys(id => id == Secret.SecretId ? Secret : null, (_, _) => senderSigningPublic));
            if (changed is not null)
            {
                _chains[changed.ChainId] = changed;
            }

            return result;
        }
    }

    private static Dictionary<Guid, byte[]> Devices() =>
        VectorFile.Load("identity.json")["users"]!.AsArray()
            .SelectMany(user => user!["devices"]!.AsArray())
            .ToDictionary(device => device!.Id("device_id"), device => device!.Bytes("signing_private"));

    private static EnvelopeHeader Header(JsonNode vector, EpochSecretState secret) => new()
    {
        ContentType = (EnvelopeContentType)(int)vector["content_type"]!,
        ConversationId = secret.ConversationId,
        MessageId = vector.Id("message_id"),
        SenderUserId = vector.Id("sender_user_id"),
        SenderDeviceId = vector.Id("sender_device_id"),
        Epoch = secret.Epoch,
        ChainId = vector.Id("chain_id"),
        Iteration = (uint)vector["iteration"]!,
        ClientTimestampMs = (long)vector["client_ts_ms"]!,
        Mentions = [.. vector["mentions"]!.AsArray().Select(m => Guid.Parse((string)m!))],
        Nonce = new byte[12],
    };
}
