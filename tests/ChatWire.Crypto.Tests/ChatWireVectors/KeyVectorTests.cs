namespace ChatWire.Crypto.Tests.ChatWireVectors;

/// <summary>The library against identity.json, x3dh.json, history-seal.json and safety-number.json.</summary>
public sealed class KeyVectorTests
{
    [Fact]
    public void Identity_EveryKeySignatureCertificateAndList_ReproducedByTheLibrary()
    {
        var users = VectorFile.Items(VectorFile.Load("identity.json"), "users", 2);
        int devices = 0, lists = 0, prekeys = 0;

        foreach (var user in users)
        {
            var userId = user!.Id("user_id");
            var account = AccountSigningKey.FromPrivateKey(user.Bytes("account_private"));
            Assert.Equal(user.Bytes("account_public"), account.PublicKey);

            var hk = user["history_key"]!;
            var signedHistoryKey = account.SignHistoryKey(userId, HistoryKey.FromPrivateKey((uint)hk["generation"]!, hk.Bytes("private")));
            Assert.Equal(hk.Bytes("public"), signedHistoryKey.PublicKey);
            Assert.Equal(hk.Bytes("signed_body"), SignedHistoryKey.Body(userId, signedHistoryKey.Generation, signedHistoryKey.PublicKey));
            Assert.Equal(hk.Bytes("signature"), signedHistoryKey.Signature);
            Assert.True(signedHistoryKey.Verify(userId, account.PublicKey));

            foreach (var device in user["devices"]!.AsArray().Select(d => d!))
            {
                devices++;
                var deviceId = device.Id("device_id");
                var keys = DeviceKeys.FromPrivateKeys(device.Bytes("signing_private"), device.Bytes("dh_private"));
                var certificate = DeviceCertificate.Create(userId, deviceId, keys, (long)device["created_at_ms"]!, (uint)device["certificate_version"]!).ApproveWith(account);
                Assert.Equal(device.Bytes("signing_public"), keys.Signing.PublicKey);
                Assert.Equal(device.Bytes("dh_public"), keys.Dh.PublicKey);
                Assert.Equal(device.Bytes("certificate_body"), certificate.Body());
                Assert.Equal(device.Bytes("self_signature"), certificate.SelfSignature);
                Assert.Equal(device.Bytes("account_signature"), certificate.AccountSignature);
                Assert.Equal(device.Bytes("certificate_hash"), certificate.Hash());
                Assert.Equal(device.Str("link_code"), certificate.LinkCode());
                Assert.True(certificate.Verify(account.PublicKey));

                if (device["signed_prekey"] is { } spk)
                {
                    prekeys++;
                    var prekey = new SignedPrekey((uint)spk["prekey_id"]!, spk.Bytes("public"), spk.Bytes("signature"));
                    Assert.Equal(spk.Bytes("public"), Primitives.X25519PublicKey(spk.Bytes("private")));
                    Assert.Equal(spk.Bytes("signed_body"), SignedPrekey.Body(deviceId, prekey.PrekeyId, prekey.PublicKey));
                    Assert.Equal(spk.Bytes("signature"), Primitives.Sign(keys.Signing.PrivateKey, SignedPrekey.Body(deviceId, prekey.PrekeyId, prekey.PublicKey)));
                    Assert.True(prekey.Verify(deviceId, keys.Signing.PublicKey));
                }
            }

            foreach (var list in user["device_lists"]!.AsArray())
            {
                lists++;
                var entries = list!["devices"]!.AsArray().Select(d => new DeviceListEntry(d!.Id("device_id"), d.Bytes("certificate_hash")));
                var signed = SignedDeviceList.Create(account, userId, (ulong)list["version"]!, entries);
                Assert.Equal(list.Bytes("body"), signed.Body());
                Assert.Equal(list.Bytes("signature"), signed.Signature);
                Assert.True(signed.Verify(account.PublicKey));
            }
        }

        Assert.Equal(4, devices);
        Assert.Equal(3, lists);
        Assert.Equal(1, prekeys);
    }

    [Fact]
    public void X3dh_EveryVector_OpensToItsPlaintext()
    {
        var (bob, bobPhone) = IdentityDevice("bob", "phone");
        var (_, alicePhone) = IdentityDevice("alice", "phone");

        foreach (var vector in VectorFile.Items(VectorFile.Load("x3dh.json"), "vectors", 2))
        {
            var message = vector!.Bytes("message");
            var oneTimeId = (uint)vector["one_time_prekey_id"]!;
            Assert.Equal(((uint)vector["signed_prekey_id"]!, oneTimeId), X3dh.ReadPrekeyIds(message));

            var plaintext = X3dh.Open(
                bob.Id("user_id"),
                bobPhone.Id("device_id"),
                DeviceKeys.FromPrivateKeys(bobPhone.Bytes("signing_private"), bobPhone.Bytes("dh_private")),
                bobPhone["signed_prekey"]!.Bytes("private"),
                oneTimeId == 0 ? [] : bobPhone["one_time_prekey"]!.Bytes("private"),
                vector.Id("initiator_user_id"),
                vector.Id("initiator_device_id"),
                alicePhone.Bytes("dh_public"),
                message);

            Assert.Equal(vector.Bytes("plaintext"), plaintext);
        }
    }

    [Fact]
    public void HistorySeal_EveryVector_OpensToItsSeed()
    {
        foreach (var vector in VectorFile.Items(VectorFile.Load("history-seal.json"), "vectors", 2))
        {
            var seed = SeedSeal.OpenFromHistoryKey(
                vector!.Bytes("sealed"),
                vector.Id("recipient_user_id"),
                HistoryKey.FromPrivateKey((uint)vector["history_key_generation"]!, vector.Bytes("history_private")),
                vector.Id("conversation_id"),
                (ulong)vector["epoch"]!,
                vector.Id("chain_id"),
                vector.Id("sender_user_id"),
                vector.Id("sender_device_id"),
                vector.Bytes("sender_signing_public"));

            Assert.Equal(vector.Bytes("seed"), seed.Encode());
            Assert.Equal(vector.Bytes("seed"), SeedPayload.Decode(vector.Bytes("seed")).Encode());
        }
    }

    [Fact]
    public void SafetyNumber_EveryVector_SameDigitsInBothOrders()
    {
        foreach (var vector in VectorFile.Items(VectorFile.Load("safety-number.json"), "vectors", 2))
        {
            var userA = vector!.Id("user_a");
            var userB = vector.Id("user_b");
            var keyA = vector.Bytes("account_public_a");
            var keyB = vector.Bytes("account_public_b");

            Assert.Equal(vector.Str("half_a"), SafetyNumber.Half(userA, keyA));
            Assert.Equal(vector.Str("half_b"), SafetyNumber.Half(userB, keyB));
            Assert.Equal(vector.Str("safety_number"), SafetyNumber.Compute(userA, keyA, userB, keyB));
            Assert.Equal(vector.Str("safety_number"), SafetyNumber.Compute(userB, keyB, userA, keyA));
        }
    }

    internal static (System.Text.Json.Nodes.JsonNode User, System.Text.Json.Nodes.JsonNode Device) IdentityDevice(string userName, string deviceName)
    {
        var user = VectorFile.Load("identity.json")["users"]!.AsArray().Single(u => u!.Str("name") == userName)!;
        return (user, user["devices"]!.AsArray().Single(d => d!.Str("name") == deviceName)!);
    }
}
