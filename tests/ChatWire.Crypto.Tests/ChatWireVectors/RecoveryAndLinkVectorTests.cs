namespace ChatWire.Crypto.Tests.ChatWireVectors;

/// <summary>The library against recovery-key.json, recovery-backup.json, device-link.json, attachment-message.json and envelope.json's window edge.</summary>
public sealed class RecoveryAndLinkVectorTests
{
    [Fact]
    public void RecoveryKey_EveryText_ReadOrRefusedAsTheVectorSays_AndShownTheSameWay()
    {
        var refused = 0;
        foreach (var vector in VectorFile.Items(VectorFile.Load("recovery-key.json"), "vectors", 11))
        {
            var parsed = RecoveryKey.TryParse(vector!.Str("text"));
            if (vector["bytes"] is null)
            {
                Assert.True(parsed is null, $"{vector.Str("name")} was accepted");
                refused++;
                continue;
            }

            Assert.True(parsed is not null, $"{vector.Str("name")} was refused");
            Assert.Equal(vector.Bytes("bytes"), parsed.Bytes);
            Assert.Equal(vector.Str("shown_as"), RecoveryKey.FromBytes(vector.Bytes("bytes")).Format());
        }

        Assert.Equal(6, refused);
    }

    [Fact]
    public void RecoveryBackup_EveryVector_OpensToItsKeys_AndTheLibrarySealsTheSameHeaderAndPlaintext()
    {
        foreach (var vector in VectorFile.Items(VectorFile.Load("recovery-backup.json"), "vectors", 2))
        {
            var user = vector!.Id("user_id");
            var recoveryKey = RecoveryKey.FromBytes(vector.Bytes("recovery_key"));
            Assert.Equal(vector.Bytes("recovery_key"), RecoveryKey.TryParse(vector.Str("recovery_key_text"))!.Bytes);
            var expectedKeys = vector["history_keys"]!.AsArray().Select(k => ((uint)k!["generation"]!, Convert.ToHexStringLower(k.Bytes("private")))).ToList();

            var (accountKey, historyKeys) = RecoveryBackup.Open(recoveryKey, user, vector.Bytes("backup"));

            Assert.Equal(vector.Bytes("account_private"), accountKey.PrivateKey);
            Assert.Equal(vector.Bytes("account_public"), accountKey.PublicKey);
            Assert.Equal(expectedKeys, historyKeys.Select(k => (k.Generation, Convert.ToHexStringLower(k.PrivateKey))).ToList());
            Assert.Equal(vector.Bytes("plaintext"), KeyBundleCodec.Encode(accountKey, historyKeys));

            // Sealing again takes a fresh ephemeral key, so only the header (Ed25519 is deterministic) is byte for byte
            // (SealVectorTests seals with the vector's ephemeral key).
            var sealedAgain = RecoveryBackup.Seal(recoveryKey, user, accountKey, historyKeys.ToList());
            Assert.Equal(vector.Bytes("header"), sealedAgain[..vector.Bytes("header").Length]);
            var refreshed = RecoveryBackup.Reseal(vector.Bytes("backup"), user, accountKey, historyKeys.ToList());
            Assert.Equal(vector.Bytes("header"), refreshed[..vector.Bytes("header").Length]);
            Assert.Equal(vector.Bytes("account_private"), RecoveryBackup.Open(recoveryKey, user, refreshed).AccountKey.PrivateKey);
        }
    }

    [Fact]
    public void DeviceLink_OpensAsTheNewDevice_ToTheAccountKeyAndHistoryKeys()
    {
        var vector = VectorFile.Items(VectorFile.Load("device-link.json"), "vectors", 1)[0];
        var (_, laptop) = KeyVectorTests.IdentityDevice("alice", "laptop");
        var signedPrekey = vector["signed_prekey"]!;
        Assert.Equal(vector.Id("responder_device_id"), laptop.Id("device_id"));
        Assert.True(Primitives.Verify(laptop.Bytes("signing_public"), signedPrekey.Bytes("signed_body"), signedPrekey.Bytes("signature")));
        Assert.Equal(((uint)signedPrekey["prekey_id"]!, (uint)vector["one_time_prekey"]!["prekey_id"]!), X3dh.ReadPrekeyIds(vector.Bytes("message")));

        var plaintext = X3dh.Open(
            vector.Id("user_id"),
            laptop.Id("device_id"),
            DeviceKeys.FromPrivateKeys(laptop.Bytes("signing_private"), vector.Bytes("responder_dh_private")),
            signedPrekey.Bytes("private"),
            vector["one_time_prekey"]!.Bytes("private"),
            vector.Id("user_id"),
            vector.Id("initiator_device_id"),
            vector.Bytes("initiator_dh_public"),
            vector.Bytes("message"));

        Assert.Equal(vector.Bytes("plaintext"), plaintext);
        var (accountKey, historyKeys) = KeyBundleCodec.Decode(plaintext);
        Assert.Equal(vector.Bytes("account_private"), accountKey.PrivateKey);
        var historyKey = Assert.Single(historyKeys);
        Assert.Equal((uint)vector["history_keys"]![0]!["generation"]!, historyKey.Generation);
        Assert.Equal(vector["history_keys"]![0]!.Bytes("private"), historyKey.PrivateKey);
    }

    [Fact]
    public void AttachmentDescriptor_EveryAttachmentVector_EncodedAndDecodedByteForByte()
    {
        var attachments = VectorFile.Items(VectorFile.Load("attachment-message.json"), "vectors", 8).Where(v => (bool)v["is_attachment"]!).ToList();
        Assert.Equal(2, attachments.Count);
        foreach (var vector in attachments)
        {
            var thumbnail = vector.Bytes("thumbnail");
            var keys = new AttachmentKeys(
                vector.Id("file_id"), vector.Bytes("file_key"), vector.Bytes("nonce_prefix"), vector.Bytes("sha256"),
                (long)vector["ciphertext_size"]!, (long)vector["plaintext_size"]!);
            var descriptor = new AttachmentDescriptor(
                vector.Id("attachment_id"), keys, vector.Str("mime"), (uint)vector["width"]!, (uint)vector["height"]!, thumbnail.Length == 0 ? null : thumbnail);

            Assert.Equal(vector.Bytes("descriptor"), descriptor.Encode());
            var decoded = AttachmentDescriptor.Decode(vector.Bytes("descriptor"));
            Assert.Equal(vector.Bytes("descriptor"), decoded.Encode());
            Assert.Equal((descriptor.AttachmentId, descriptor.MimeType, descriptor.Width, descriptor.Height), (decoded.AttachmentId, decoded.MimeType, decoded.Width, decoded.Height));
        }
    }

    [Fact]
    public void Envelope_WindowEdge_TheFurthestIterationAheadIsAccepted_OneMoreIsNot()
    {
        var document = VectorFile.Load("envelope.json");
        var chain = document["chain"]!;
        var edge = document["window_edge"]!;
        Assert.Equal(InboundChain.MaxSkip, (int)edge["iteration"]!);

        var inbound = InboundChain.FromSeed(SeedPayload.Decode(chain.Bytes("seed")));
        var result = MessageVectorTests.Decrypt(inbound, edge.Bytes("envelope"), chain.Id("conversation_id"), chain.Id("sender_user_id"));

        Assert.True(result.Succeeded, $"{result.Error} {result.Reason}");
        Assert.Equal(edge.Bytes("plaintext"), result.Plaintext);
        Assert.Equal(edge.Id("message_id"), result.Header!.MessageId);
        var beyond = VectorFile.Load("negative.json")["vectors"]!.AsArray().Single(v => v!.Str("name") == "out-of-window-iteration")!;
        var fresh = InboundChain.FromSeed(SeedPayload.Decode(chain.Bytes("seed")));
        Assert.Equal(CryptoError.OutOfWindow, MessageVectorTests.Decrypt(fresh, beyond.Bytes("envelope"), chain.Id("conversation_id"), chain.Id("sender_user_id")).Error);
    }
}
