namespace ChatWire.Crypto.Tests.ChatWireVectors;

/// <summary>
/// The library's seals given each vector's ephemeral key: byte for byte what the vectors hold (the other tests open the
/// vectors, and seal with fresh ephemeral keys, so they do not show that sealing matches the spec).
/// </summary>
public sealed class SealVectorTests
{
    [Fact]
    public void DeviceLink_SealedWithTheVectorsEphemeralKey_IsTheVectorsMessage()
    {
        var vector = VectorFile.Items(VectorFile.Load("device-link.json"), "vectors", 1)[0];
        var (_, phone) = KeyVectorTests.IdentityDevice("alice", "phone");
        Assert.Equal(vector.Id("initiator_device_id"), phone.Id("device_id"));
        var signedPrekey = vector["signed_prekey"]!;
        var oneTimePrekey = vector["one_time_prekey"]!;
        var laptop = new PrekeyBundle(
            vector.Id("user_id"),
            vector.Id("responder_device_id"),
            vector.Bytes("responder_signing_public"),
            vector.Bytes("responder_dh_public"),
            new SignedPrekey((uint)signedPrekey["prekey_id"]!, signedPrekey.Bytes("public"), signedPrekey.Bytes("signature")),
            new OneTimePrekey((uint)oneTimePrekey["prekey_id"]!, oneTimePrekey.Bytes("public")));

        var message = X3dh.SealWith(
            vector.Id("user_id"),
            phone.Id("device_id"),
            DeviceKeys.FromPrivateKeys(phone.Bytes("signing_private"), phone.Bytes("dh_private")),
            laptop,
            vector.Bytes("plaintext"),
            new KeyPair(vector.Bytes("ephemeral_private"), vector.Bytes("ephemeral_public")));

        Assert.Equal(Convert.ToHexStringLower(vector.Bytes("message")), Convert.ToHexStringLower(message));
    }

    [Fact]
    public void RecoveryBackup_SealedWithTheVectorsEphemeralKey_IsTheVectorsBackup()
    {
        foreach (var vector in VectorFile.Items(VectorFile.Load("recovery-backup.json"), "vectors", 2))
        {
            var historyKeys = vector!["history_keys"]!.AsArray().Select(k => HistoryKey.FromPrivateKey((uint)k!["generation"]!, k.Bytes("private"))).ToList();

            var backup = RecoveryBackup.SealWith(
                RecoveryKey.FromBytes(vector.Bytes("recovery_key")),
                vector.Id("user_id"),
                AccountSigningKey.FromPrivateKey(vector.Bytes("account_private")),
                historyKeys,
                new KeyPair(vector.Bytes("ephemeral_private"), vector.Bytes("ephemeral_public")));

            Assert.Equal(Convert.ToHexStringLower(vector.Bytes("backup")), Convert.ToHexStringLower(backup));
        }
    }

    [Fact]
    public void HistorySeal_SealedWithTheVectorsEphemeralKey_IsTheVectorsSeal()
    {
        var (_, phone) = KeyVectorTests.IdentityDevice("alice", "phone");
        foreach (var vector in VectorFile.Items(VectorFile.Load("history-seal.json"), "vectors", 2))
        {
            Assert.Equal(vector!.Id("sender_device_id"), phone.Id("device_id"));

            var sealedSeed = SeedSeal.SealToHistoryKeyWith(
                SeedPayload.Decode(vector.Bytes("seed")),
                vector.Id("recipient_user_id"),
                (uint)vector["history_key_generation"]!,
                vector.Bytes("history_public"),
                DeviceKeys.FromPrivateKeys(phone.Bytes("signing_private"), phone.Bytes("dh_private")),
                new KeyPair(vector.Bytes("ephemeral_private"), vector.Bytes("ephemeral_public")));

            Assert.Equal(Convert.ToHexStringLower(vector.Bytes("sealed")), Convert.ToHexStringLower(sealedSeed));
        }
    }
}
