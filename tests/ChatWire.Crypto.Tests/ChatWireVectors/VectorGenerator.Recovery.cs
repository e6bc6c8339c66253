using System.Text.Json.Nodes;

namespace ChatWire.Crypto.Tests.ChatWireVectors;

/// <summary>The recovery key's text, the recovery backup and the device-link payload (docs/e2e.md, "Recovery backup").</summary>
internal static partial class VectorGenerator
{
    private const byte RecoveryBackupVersion = 2;

    /// <summary>Alice's laptop's prekeys, used only by the device-link vector (identity.json gives the laptop none).</summary>
    private const uint LaptopSignedPrekeyId = 1;
    private const uint LaptopOneTimePrekeyId = 5;

    private static JsonObject RecoveryKeys()
    {
        var alice = Fixed.Secret("alice/recovery-key");
        var canonical = Spec.RecoveryKeyText(alice);
        var zeros = new byte[32];
        var ones = Enumerable.Repeat((byte)0xff, 32).ToArray();
        var onesText = Spec.RecoveryKeyText(ones);
        var compactOnes = onesText.Replace("-", string.Empty, StringComparison.Ordinal);
        JsonArray items =
        [
            RecoveryKeyText("alice-as-shown", canonical, alice, "The form a client shows: 52 characters in 13 groups of 4."),
            RecoveryKeyText("alice-typed-lowercase-with-spaces", canonical.ToLowerInvariant().Replace('-', ' '), alice, "Case, spaces and dashes are ignored."),
            RecoveryKeyText("alice-typed-without-separators", canonical.Replace("-", string.Empty, StringComparison.Ordinal), alice, "Without separators."),
            RecoveryKeyText("all-zero-bytes", Spec.RecoveryKeyText(zeros), zeros, "Every character A."),
            RecoveryKeyText("all-one-bits", onesText, ones, "The last character carries the last 1 bit and 4 zero bits: Q."),
            RecoveryKeyText("too-short", compactOnes[..^1], null, "51 characters carry 255 bits: one short of 32 bytes."),
            RecoveryKeyText("too-long", compactOnes + "A", null, "53 characters: more than 32 bytes and 4 padding bits."),
            RecoveryKeyText("padding-bits-set", compactOnes[..^1] + "R", null, "The last character's 4 padding bits are not zero (R = 10001)."),
            RecoveryKeyText("outside-alphabet", "1" + compactOnes[1..], null, "1 is not in the base32 alphabet (A-Z, 2-7)."),
            RecoveryKeyText("with-base32-padding", compactOnes + "====", null, "RFC 4648 padding (=) is not used and is refused."),
            RecoveryKeyText("empty", string.Empty, null, "No characters."),
        ];
        return Document(
            "Recovery key text: 32 bytes as RFC 4648 base32 without padding (52 characters, the last with 4 zero bits), shown in 13 groups of 4 joined by dashes; typed back with case, spaces and dashes ignored. \"bytes\" is null for a text that must be refused.",
            "vectors",
            items);
    }

    private static JsonObject RecoveryKeyText(string name, string text, byte[]? bytes, string reason) => new()
    {
        ["name"] = name,
        ["text"] = text,
        ["bytes"] = bytes is null ? null : Hex(bytes),
        ["shown_as"] = bytes is null ? null : Spec.RecoveryKeyText(bytes),
        ["reason"] = reason,
    };

    private static JsonObject RecoveryBackups()
    {
        var alice = Actors.AliceUser;
        var bob = Actors.BobUser;
        JsonArray items =
        [
            RecoveryBackup("alice-one-generation", alice.UserId, alice.AccountPrivate, [(1, alice.HistoryPrivate)], "alice/recovery-key", "recovery/ek/alice").Json,
            RecoveryBackup("bob-two-generations", bob.UserId, bob.AccountPrivate, [(1, Fixed.Secret("bob/hk/1")), (2, bob.HistoryPrivate)], "bob/recovery-key", "recovery/ek/bob").Json,
        ];
        return Document(
            "Recovery backups: the account key and history keys sealed to an X25519 key pair derived from the recovery key; the header's public key is signed by the account key.",
            "vectors",
            items);
    }

    /// <summary>One backup with every intermediate value; <paramref name="headerSigner"/> replaces the account key as the header's signer (negative vectors).</summary>
    public static (JsonObject Json, byte[] Backup) RecoveryBackup(
        string name, Guid user, byte[] accountPrivate, (uint Generation, byte[] Private)[] historyKeys, string recoveryKeyName, string ephemeralName, byte[]? headerSigner = null)
    {
        var recoveryKey = Fixed.Secret(recoveryKeyName);
        var backupPrivate = Spec.Hkdf([], recoveryKey, SpecBytes.Of("CW-recovery-v2").Id(user).ToArray(), 32);
        var backupPublic = Spec.X25519Public(backupPrivate);
        var signedBytes = SpecBytes.Of("CW-recovery-pk-v1").Id(user).Raw(backupPublic).ToArray();
        var header = new SpecBytes().U8(RecoveryBackupVersion).Raw(backupPublic).Raw(Spec.Sign(headerSigner ?? accountPrivate, signedBytes)).ToArray();
        var ephemeral = Fixed.Secret(ephemeralName);
        var ephemeralPublic = Spec.X25519Public(ephemeral);
        var shared = Spec.DhUnchecked(ephemeral, backupPublic);
        var info = SpecBytes.Of("CW-recovery-v2").Id(user).Raw(ephemeralPublic).Raw(backupPublic).ToArray();
        var okm = Spec.Hkdf([], shared, info, 44);
        var plaintext = Spec.KeyBundle(accountPrivate, historyKeys);
        var aad = SpecBytes.Of("CW-recovery-v2").Id(user).Raw(header).ToArray();
        var ciphertext = Spec.Gcm(okm[..32], okm[32..], aad, plaintext);
        byte[] backup = [.. header, .. ephemeralPublic, .. ciphertext];
        var json = new JsonObject
        {
            ["name"] = name,
            ["user_id"] = Text(user),
            ["account_private"] = Hex(accountPrivate),
            ["account_public"] = Hex(Spec.Ed25519Public(accountPrivate)),
            ["history_keys"] = new JsonArray([.. historyKeys.Select(k => (JsonNode)new JsonObject
            {
                ["generation"] = k.Generation,
                ["private"] = Hex(k.Private),
                ["public"] = Hex(Spec.X25519Public(k.Private)),
            })]),
            ["recovery_key"] = Hex(recoveryKey),
            ["recovery_key_text"] = Spec.RecoveryKeyText(recoveryKey),
            ["backup_private"] = Hex(backupPrivate),
            ["backup_public"] = Hex(backupPublic),
            ["public_key_signed_bytes"] = Hex(signedBytes),
            ["header"] = Hex(header),
            ["ephemeral_private"] = Hex(ephemeral),
            ["ephemeral_public"] = Hex(ephemeralPublic),
            ["shared"] = Hex(shared),
            ["body_key_info"] = Hex(info),
            ["key"] = Hex(okm.AsSpan(0, 32)),
            ["nonce"] = Hex(okm.AsSpan(32)),
            ["plaintext"] = Hex(plaintext),
            ["associated_data"] = Hex(aad),
            ["ciphertext"] = Hex(ciphertext),
            ["backup"] = Hex(backup),
        };
        return (json, backup);
    }

    private static IEnumerable<JsonObject> RecoveryNegatives()
    {
        var alice = Actors.AliceUser;
        (uint, byte[])[] aliceKeys = [(1, alice.HistoryPrivate)];
        var backup = RecoveryBackup("alice", alice.UserId, alice.AccountPrivate, aliceKeys, "alice/recovery-key", "recovery/ek/alice").Backup;
        var aliceKey = Fixed.Secret("alice/recovery-key");

        yield return RecoveryNegative("recovery-wrong-key", "open", Fixed.Alice, Fixed.Secret("bob/recovery-key"), backup, "DecryptionFailed",
            "Another recovery key derives another key pair: the header's public key is not the derived one.");
        yield return RecoveryNegative("recovery-other-user", "open", Fixed.Bob, aliceKey, backup, "DecryptionFailed",
            "The right recovery key under another user id: the user id is part of the derivation.");
        byte[] flipped = [.. backup];
        flipped[^1] ^= 0x01;
        yield return RecoveryNegative("recovery-tag-bit-flipped", "open", Fixed.Alice, aliceKey, flipped, "DecryptionFailed",
            "One bit of the tag flipped: AES-GCM authentication fails.");
        byte[] headerFlipped = [.. backup];
        headerFlipped[40] ^= 0x01;
        yield return RecoveryNegative("recovery-header-signature-altered", "open", Fixed.Alice, aliceKey, headerFlipped, "DecryptionFailed",
            "One bit of the header's signature flipped: the header is associated data, so AES-GCM fails before the signature is checked.");
        var otherSigner = RecoveryBackup("alice", alice.UserId, alice.AccountPrivate, aliceKeys, "alice/recovery-key", "recovery/ek/alice", headerSigner: Actors.BobUser.AccountPrivate).Backup;
        yield return RecoveryNegative("recovery-header-signed-by-other-account", "open", Fixed.Alice, aliceKey, otherSigner, "BadSignature",
            "The body opens, but the header's signature is not by the account key inside it.");
        var substituted = RecoveryBackup("mallory", alice.UserId, Fixed.Secret("mallory/ask"), aliceKeys, "mallory/recovery-key", "recovery/ek/mallory").Backup;
        yield return RecoveryNegative("recovery-refresh-substituted-key", "refresh", Fixed.Alice, null, substituted, "BadSignature",
            "A server offers a backup of its own key pair: Alice's device refreshing the backup finds the header not signed by her account key and seals nothing.");
        byte[] unknownVersion = [.. backup];
        unknownVersion[0] = 1;
        yield return RecoveryNegative("recovery-unknown-version", "open", Fixed.Alice, aliceKey, unknownVersion, "Malformed",
            "Version 1 is not a known backup version.");
    }

    private static JsonObject RecoveryNegative(string name, string operation, Guid user, byte[]? recoveryKey, byte[] backup, string error, string reason) => new()
    {
        ["name"] = name,
        ["kind"] = "recovery-backup",
        ["base"] = "recovery-backup.json#alice-one-generation",
        ["error"] = error,
        ["reason"] = reason,
        ["operation"] = operation,
        ["user_id"] = Text(user),
        ["recovery_key"] = recoveryKey is null ? null : Hex(recoveryKey),
        ["backup"] = Hex(backup),
    };

    private static JsonObject DeviceLinks()
    {
        JsonArray items = [DeviceLink()];
        return Document(
            "The device-link payload: Alice's phone seals her account key and history keys (the key bundle) to her laptop with one-shot X3DH.",
            "vectors",
            items);
    }

    private static JsonObject DeviceLink()
    {
        var phone = Actors.AlicePhone;
        var laptop = Actors.AliceUser.Devices[1];
        var signedPrekey = Fixed.Secret($"alice/laptop/spk/{LaptopSignedPrekeyId}");
        var oneTimePrekey = Fixed.Secret($"alice/laptop/opk/{LaptopOneTimePrekeyId}");
        var signedPrekeyPublic = Spec.X25519Public(signedPrekey);
        var signedBody = Spec.SignedPrekeyBody(laptop.DeviceId, LaptopSignedPrekeyId, signedPrekeyPublic);
        var ephemeral = Fixed.Secret("link/ek");
        var ephemeralPublic = Spec.X25519Public(ephemeral);
        var dh1 = Spec.DhUnchecked(phone.DhPrivate, signedPrekeyPublic);
        var dh2 = Spec.DhUnchecked(ephemeral, laptop.DhPublic);
        var dh3 = Spec.DhUnchecked(ephemeral, signedPrekeyPublic);
        var dh4 = Spec.DhUnchecked(ephemeral, Spec.X25519Public(oneTimePrekey));
        var sk = Spec.Hkdf(new byte[32], [.. dh1, .. dh2, .. dh3, .. dh4], "ChatWire-X3DH-v1", 32);
        var header = new SpecBytes().U8(X3dhVersion).Raw(ephemeralPublic).U32(LaptopSignedPrekeyId).U32(LaptopOneTimePrekeyId).ToArray();
        var aad = SpecBytes.Of("CW").Raw(phone.DhPublic).Raw(laptop.DhPublic)
            .Id(Fixed.Alice).Id(phone.DeviceId).Id(Fixed.Alice).Id(laptop.DeviceId).Raw(header).ToArray();
        var plaintext = Spec.KeyBundle(Actors.AliceUser.AccountPrivate, [(Actors.AliceUser.HistoryGeneration, Actors.AliceUser.HistoryPrivate)]);
        return new JsonObject
        {
            ["name"] = "phone-to-laptop",
            ["user_id"] = Text(Fixed.Alice),
            ["initiator_device_id"] = Text(phone.DeviceId),
            ["initiator_dh_public"] = Hex(phone.DhPublic),
            ["responder_device_id"] = Text(laptop.DeviceId),
            ["responder_dh_private"] = Hex(laptop.DhPrivate),
            ["responder_dh_public"] = Hex(laptop.DhPublic),
            ["responder_signing_public"] = Hex(laptop.SigningPublic),
            ["signed_prekey"] = new JsonObject
            {
                ["prekey_id"] = LaptopSignedPrekeyId,
                ["private"] = Hex(signedPrekey),
                ["public"] = Hex(signedPrekeyPublic),
                ["signed_body"] = Hex(signedBody),
                ["signature"] = Hex(Spec.Sign(laptop.SigningPrivate, signedBody)),
            },
            ["one_time_prekey"] = new JsonObject
            {
                ["prekey_id"] = LaptopOneTimePrekeyId,
                ["private"] = Hex(oneTimePrekey),
                ["public"] = Hex(Spec.X25519Public(oneTimePrekey)),
            },
            ["ephemeral_private"] = Hex(ephemeral),
            ["ephemeral_public"] = Hex(ephemeralPublic),
            ["sk"] = Hex(sk),
            ["header"] = Hex(header),
            ["associated_data"] = Hex(aad),
            ["account_private"] = Hex(Actors.AliceUser.AccountPrivate),
            ["history_keys"] = new JsonArray(new JsonObject
            {
                ["generation"] = Actors.AliceUser.HistoryGeneration,
                ["private"] = Hex(Actors.AliceUser.HistoryPrivate),
            }),
            ["plaintext"] = Hex(plaintext),
            ["message"] = Hex([.. header, .. Spec.Gcm(sk, new byte[12], aad, plaintext)]),
        };
    }
}
