using System.Text.Json.Nodes;

namespace ChatWire.Crypto.Tests.ChatWireVectors;

/// <summary>The library against negative.json: every vector refused, for the reason the vector names.</summary>
public sealed class NegativeVectorTests
{
    private const int Envelopes = 20;
    private const int Seals = 3;
    private const int X3dhMessages = 2;
    private const int PrekeyBundles = 2;
    private const int DeviceLists = 4;
    private const int Attachments = 3;
    private const int EpochSecretEnvelopes = 5;
    private const int RecoveryBackups = 7;

    [Fact]
    public async Task Negative_EveryVector_RefusedForItsReason()
    {
        var items = VectorFile.Items(VectorFile.Load("negative.json"), "vectors", Envelopes + Seals + X3dhMessages + PrekeyBundles + DeviceLists + Attachments + EpochSecretEnvelopes + RecoveryBackups);
        var failures = new List<string>();
        var kinds = new Dictionary<string, int>();

        foreach (var vector in items)
        {
            var kind = vector!.Str("kind");
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
            string? refusal;
            try
            {
                refusal = kind switch
                {
                    "envelope" => Envelope(vector),
                    "history-seal" => HistorySeal(vector),
                    "x3dh" => X3dhMessage(vector),
                    "prekey-bundle" => PrekeyBundle(vector),
                    "device-list" => DeviceList(vector),
                    "attachment" => await AttachmentAsync(vector),
                    "epoch-secret-envelope" => EpochSecretEnvelope(vector),
                    "recovery-backup" => RecoveryBackupVector(vector),
                    _ => $"unknown kind {kind}",
                };
            }
            catch (ChatWireCryptoException e)
            {
                refusal = e.Error.ToString();
            }

            if (refusal != vector.Str("error"))
            {
                failures.Add($"{vector.Str("name")}: expected {vector.Str("error")}, got {refusal ?? "accepted"}");
            }
        }

        Assert.Empty(failures);
        Assert.Equal(Envelopes, kinds["envelope"]);
        Assert.Equal(Seals, kinds["history-seal"]);
        Assert.Equal(X3dhMessages, kinds["x3dh"]);
        Assert.Equal(PrekeyBundles, kinds["prekey-bundle"]);
        Assert.Equal(DeviceLists, kinds["device-list"]);
        Assert.Equal(Attachments, kinds["attachment"]);
        Assert.Equal(EpochSecretEnvelopes, kinds["epoch-secret-envelope"]);
        Assert.Equal(RecoveryBackups, kinds["recovery-backup"]);
    }

    // "open": a new device opens the backup with the vector's recovery key as the vector's user. "refresh": Alice's
    // device, holding her account key, seals her keys anew to the backup's key pair.
    private static string? RecoveryBackupVector(JsonNode vector)
    {
        var alice = VectorFile.Load("recovery-backup.json")["vectors"]!.AsArray().Single(v => v!.Str("name") == "alice-one-generation")!;
        if (vector.Str("operation") == "refresh")
        {
            var historyKeys = alice["history_keys"]!.AsArray().Select(k => HistoryKey.FromPrivateKey((uint)k!["generation"]!, k.Bytes("private"))).ToList();
            RecoveryBackup.Reseal(vector.Bytes("backup"), vector.Id("user_id"), AccountSigningKey.FromPrivateKey(alice.Bytes("account_private")), historyKeys);
            return null;
        }

        RecoveryBackup.Open(RecoveryKey.FromBytes(vector.Bytes("recovery_key")), vector.Id("user_id"), vector.Bytes("backup"));
        return null;
    }

    // The receiver holds epoch-secret.json's secret, accepted "received_before" first; the directory gives
    // "sender_signing_public" (null: no verified key) as the sender device's DSK.
    private static string? EpochSecretEnvelope(JsonNode vector)
    {
        var document = VectorFile.Load("epoch-secret.json");
        var receiver = new EpochSecretVectorTests.Receiver(document);
        var byName = document["vectors"]!.AsArray().ToDictionary(v => v!.Str("name"), v => v!);
        foreach (var before in vector["received_before"]!.AsArray())
        {
            var positive = byName[(string)before!];
            var accepted = receiver.Decrypt(positive.Bytes("envelope"), positive.Id("sender_user_id"), positive.Bytes("sender_signing_public"));
            Assert.True(accepted.Succeeded, $"{vector.Str("name")}: {before} was not accepted first ({accepted.Error})");
        }

        var key = vector["sender_signing_public"] is null ? null : vector.Bytes("sender_signing_public");
        return receiver.Decrypt(vector.Bytes("envelope"), vector.Id("delivered_sender_user_id"), key, vector.Id("delivered_conversation_id")).Error?.ToString();
    }

    // The receiver holds envelope.json's chain from its seed, accepted "received_before" first, then gets the envelope.
    private static string? Envelope(JsonNode vector)
    {
        var document = VectorFile.Load("envelope.json");
        var chain = document["chain"]!;
        var inbound = InboundChain.FromSeed(SeedPayload.Decode(chain.Bytes("seed")));
        var byName = document["vectors"]!.AsArray().ToDictionary(v => v!.Str("name"), v => v!.Bytes("envelope"));
        foreach (var before in vector["received_before"]!.AsArray())
        {
            var accepted = MessageVectorTests.Decrypt(inbound, byName[(string)before!], chain.Id("conversation_id"), chain.Id("sender_user_id"));
            Assert.True(accepted.Succeeded, $"{vector.Str("name")}: {before} was not accepted first ({accepted.Error})");
        }

        var result = MessageVectorTests.Decrypt(inbound, vector.Bytes("envelope"), vector.Id("delivered_conversation_id"), vector.Id("delivered_sender_user_id"));
        return result.Error?.ToString();
    }

    private static string? HistorySeal(JsonNode vector)
    {
        var seal = VectorFile.Load("history-seal.json")["vectors"]!.AsArray().Single(v => v!.Str("name") == "to-bob")!;
        SeedSeal.OpenFromHistoryKey(
            vector.Bytes("sealed"),
            seal.Id("recipient_user_id"),
            HistoryKey.FromPrivateKey((uint)seal["history_key_generation"]!, seal.Bytes("history_private")),
            vector.Id("conversation_id"),
            (ulong)seal["epoch"]!,
            seal.Id("chain_id"),
            seal.Id("sender_user_id"),
            seal.Id("sender_device_id"),
            seal.Bytes("sender_signing_public"));
        return null;
    }

    private static string? X3dhMessage(JsonNode vector)
    {
        var (bob, bobPhone) = KeyVectorTests.IdentityDevice("bob", "phone");
        var (alice, alicePhone) = KeyVectorTests.IdentityDevice("alice", "phone");
        X3dh.Open(
            bob.Id("user_id"),
            bobPhone.Id("device_id"),
            DeviceKeys.FromPrivateKeys(bobPhone.Bytes("signing_private"), bobPhone.Bytes("dh_private")),
            bobPhone["signed_prekey"]!.Bytes("private"),
            bobPhone["one_time_prekey"]!.Bytes("private"),
            alice.Id("user_id"),
            vector.Id("initiator_device_id"),
            alicePhone.Bytes("dh_public"),
            vector.Bytes("message"));
        return null;
    }

    // Alice's phone seals a seed to Bob's phone with a signed prekey the server handed out.
    private static string? PrekeyBundle(JsonNode vector)
    {
        var (bob, bobPhone) = KeyVectorTests.IdentityDevice("bob", "phone");
        var (alice, alicePhone) = KeyVectorTests.IdentityDevice("alice", "phone");
        var spk = vector["signed_prekey"]!;
        var bundle = new PrekeyBundle(
            bob.Id("user_id"),
            bobPhone.Id("device_id"),
            bobPhone.Bytes("signing_public"),
            bobPhone.Bytes("dh_public"),
            new SignedPrekey((uint)spk["prekey_id"]!, spk.Bytes("public"), spk.Bytes("signature")),
            null);
        X3dh.Seal(alice.Id("user_id"), alicePhone.Id("device_id"), DeviceKeys.FromPrivateKeys(alicePhone.Bytes("signing_private"), alicePhone.Bytes("dh_private")), bundle, [1, 2, 3]);
        return null;
    }

    // The receiver checks the list (signature, then rollback against the highest version seen) and, when a
    // certificate is given, that it verifies up to the account key and is listed.
    private static string? DeviceList(JsonNode vector)
    {
        var (alice, _) = KeyVectorTests.IdentityDevice("alice", "phone");
        var userId = alice.Id("user_id");
        var accountPublic = alice.Bytes("account_public");
        var list = vector["list"]!;
        var signed = new SignedDeviceList(
            userId,
            (ulong)list["version"]!,
            [.. list["devices"]!.AsArray().Select(d => new DeviceListEntry(d!.Id("device_id"), d.Bytes("certificate_hash")))],
            list.Bytes("signature"));
        signed.VerifyNotRolledBack(accountPublic, (ulong?)vector["highest_version_seen"]);

        if (vector["certificate"] is not { } c)
        {
            return null;
        }

        var certificate = new DeviceCertificate(
            userId, c.Id("device_id"), c.Bytes("signing_public"), c.Bytes("dh_public"), (long)c["created_at_ms"]!, (uint)c["certificate_version"]!,
            c.Bytes("self_signature"), c.Bytes("account_signature"));
        if (!certificate.Verify(accountPublic))
        {
            return nameof(CryptoError.BadSignature);
        }

        return signed.TrustedDevices([certificate], accountPublic).Count == 1 ? null : "NotOnDeviceList";
    }

    // The receiver has the two-chunk file's descriptor (key, prefix, file id, size and hash of the real ciphertext) and
    // the server serves an altered ciphertext; the vector's hash pins exactly which bytes.
    private static async Task<string?> AttachmentAsync(JsonNode vector)
    {
        var document = VectorFile.Load("attachment.json");
        var original = document["vectors"]!.AsArray().Single(v => v!.Str("name") == "two-chunks")!;
        var altered = VectorGenerator.AlterAttachment(vector.Str("operation"));
        Assert.Equal(vector.Bytes("ciphertext_sha256"), System.Security.Cryptography.SHA256.HashData(altered));
        var keys = new AttachmentKeys(
            document.Id("file_id"), document.Bytes("file_key"), document.Bytes("nonce_prefix"), original.Bytes("ciphertext_sha256"),
            (long)original["ciphertext_length"]!, (long)original["plaintext_length"]!);
        await AttachmentCipher.DecryptAsync(new MemoryStream(altered), new MemoryStream(), keys);
        return null;
    }
}
