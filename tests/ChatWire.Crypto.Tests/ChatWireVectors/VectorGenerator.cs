using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ChatWire.Crypto.Tests.ChatWireVectors;

/// <summary>
/// Makes ChatWire's own test vectors (ChatWireVectors/*.json, described in docs/e2e.md, "Test vectors") from fixed keys and
/// fixed "randomness" (<see cref="Fixed.Secret"/>), with the constructions of <see cref="Spec"/>. Deterministic: the
/// committed files must equal what this produces (VectorGenerationTests checks it).
/// </summary>
internal static partial class VectorGenerator
{
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        NewLine = "\n",
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static SortedDictionary<string, JsonObject> GenerateAll() => new(StringComparer.Ordinal)
    {
        ["identity.json"] = Identity(),
        ["x3dh.json"] = X3dhVectors(),
        ["sender-chain.json"] = SenderChain(),
        ["envelope.json"] = Envelopes(),
        ["history-seal.json"] = HistorySeals(),
        ["safety-number.json"] = SafetyNumbers(),
        ["attachment.json"] = Attachments(),
        ["negative.json"] = Negatives(),
        ["epoch-secret.json"] = EpochSecretVectors(),
        ["recovery-key.json"] = RecoveryKeys(),
        ["recovery-backup.json"] = RecoveryBackups(),
        ["device-link.json"] = DeviceLinks(),
        ["attachment-message.json"] = AttachmentMessages(),
    };

    public static string Serialize(JsonObject document) => document.ToJsonString(Options) + "\n";

    private static JsonObject Document(string description, string listName, JsonArray items, params (string Name, JsonNode? Value)[] extra)
    {
        var document = new JsonObject
        {
            ["description"] = description,
            ["format_version"] = 1,
            ["count"] = items.Count,
        };
        foreach (var (name, value) in extra)
        {
            document[name] = value;
        }

        document[listName] = items;
        return document;
    }

    private static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    private static string Text(Guid id) => id.ToString();

    private static JsonArray Ids(IEnumerable<Guid> ids) => [.. ids.Select(id => (JsonNode)Text(id))];

    private static JsonObject Identity()
    {
        JsonArray users = [User(Actors.AliceUser), User(Actors.BobUser)];
        return Document(
            "Account signing keys, history key signatures, device certificates (body, both signatures, hash, link code), signed device lists and signed prekeys.",
            "users",
            users);
    }

    private static JsonObject User(UserActor user)
    {
        var devices = new JsonArray();
        foreach (var device in user.Devices)
        {
            var node = new JsonObject
            {
                ["name"] = device.Name,
                ["device_id"] = Text(device.DeviceId),
                ["signing_private"] = Hex(device.SigningPrivate),
                ["signing_public"] = Hex(device.SigningPublic),
                ["dh_private"] = Hex(device.DhPrivate),
                ["dh_public"] = Hex(device.DhPublic),
                ["created_at_ms"] = Fixed.CreatedAtMs,
                ["certificate_version"] = 1,
                ["certificate_body"] = Hex(device.CertificateBody),
                ["self_signature"] = Hex(device.SelfSignature),
                ["account_signature"] = Hex(device.AccountSignature),
                ["certificate_hash"] = Hex(device.CertificateHash),
                ["link_code"] = device.LinkCode,
            };
            if (device.SignedPrekeyPrivate is { } spk)
            {
                var spkPublic = Spec.X25519Public(spk);
                var body = Spec.SignedPrekeyBody(device.DeviceId, Actors.SignedPrekeyId, spkPublic);
                node["signed_prekey"] = new JsonObject
                {
                    ["prekey_id"] = Actors.SignedPrekeyId,
                    ["private"] = Hex(spk),
                    ["public"] = Hex(spkPublic),
                    ["signed_body"] = Hex(body),
                    ["signature"] = Hex(Spec.Sign(device.SigningPrivate, body)),
                };
                node["one_time_prekey"] = new JsonObject
                {
                    ["prekey_id"] = Actors.OneTimePrekeyId,
                    ["private"] = Hex(device.OneTimePrekeyPrivate!),
                    ["public"] = Hex(Spec.X25519Public(device.OneTimePrekeyPrivate!)),
                };
            }

            devices.Add(node);
        }

        var lists = new JsonArray();
        foreach (var (version, listed) in user.DeviceLists)
        {
            var body = Spec.DeviceListBody(user.UserId, version, listed.Select(d => (d.DeviceId, d.CertificateHash)));
            lists.Add(new JsonObject
            {
                ["version"] = version,
                ["devices"] = new JsonArray([.. listed.Select(d => (JsonNode)new JsonObject
                {
                    ["device_id"] = Text(d.DeviceId),
                    ["certificate_hash"] = Hex(d.CertificateHash),
                })]),
                ["body"] = Hex(body),
                ["signature"] = Hex(Spec.Sign(user.AccountPrivate, body)),
            });
        }

        var historyBody = Spec.HistoryKeyBody(user.UserId, user.HistoryGeneration, user.HistoryPublic);
        return new JsonObject
        {
            ["name"] = user.Name,
            ["user_id"] = Text(user.UserId),
            ["account_private"] = Hex(user.AccountPrivate),
            ["account_public"] = Hex(user.AccountPublic),
            ["history_key"] = new JsonObject
            {
                ["generation"] = user.HistoryGeneration,
                ["private"] = Hex(user.HistoryPrivate),
                ["public"] = Hex(user.HistoryPublic),
                ["signed_body"] = Hex(historyBody),
                ["signature"] = Hex(Spec.Sign(user.AccountPrivate, historyBody)),
            },
            ["devices"] = devices,
            ["device_lists"] = lists,
        };
    }

    private static JsonObject SafetyNumbers()
    {
        var alice = Spec.SafetyNumberHalf(Actors.AliceUser.UserId, Actors.AliceUser.AccountPublic);
        var bob = Spec.SafetyNumberHalf(Actors.BobUser.UserId, Actors.BobUser.AccountPublic);
        var sameKeyOtherUser = Spec.SafetyNumberHalf(Actors.BobUser.UserId, Actors.AliceUser.AccountPublic);
        JsonArray items =
        [
            SafetyNumber("alice-bob", Actors.AliceUser.UserId, Actors.AliceUser.AccountPublic, alice, Actors.BobUser.UserId, Actors.BobUser.AccountPublic, bob),
            SafetyNumber("alice-and-alice-key-under-bob-id", Actors.AliceUser.UserId, Actors.AliceUser.AccountPublic, alice, Actors.BobUser.UserId, Actors.AliceUser.AccountPublic, sameKeyOtherUser),
        ];
        return Document("Safety numbers over two users' account signing keys (60 digits, the smaller half first).", "vectors", items);
    }

    private static JsonObject SafetyNumber(string name, Guid userA, byte[] keyA, string halfA, Guid userB, byte[] keyB, string halfB) => new()
    {
        ["name"] = name,
        ["user_a"] = Text(userA),
        ["account_public_a"] = Hex(keyA),
        ["half_a"] = halfA,
        ["user_b"] = Text(userB),
        ["account_public_b"] = Hex(keyB),
        ["half_b"] = halfB,
        ["safety_number"] = string.CompareOrdinal(halfA, halfB) <= 0 ? halfA + halfB : halfB + halfA,
    };

    private static JsonObject Attachments()
    {
        var fileKey = Fixed.Secret("attachment/file-key");
        var prefix = Fixed.Secret("attachment/nonce-prefix")[..7];
        JsonArray items =
        [
            Attachment("empty", 0, fileKey, prefix, fullCiphertext: true),
            Attachment("small", 100, fileKey, prefix, fullCiphertext: true),
            Attachment("exactly-one-chunk", Spec.ChunkSize, fileKey, prefix, fullCiphertext: false),
            Attachment("two-chunks", Spec.ChunkSize + 1000, fileKey, prefix, fullCiphertext: false),
        ];
        return Document(
            "Attachment encryption: 64 KiB chunks, nonce = prefix(7) || u32 index || u8 last, AAD = \"CW-att-v1\" || file_id || u32 index || u8 last. Plaintext byte i = i mod 251.",
            "vectors",
            items,
            ("file_id", Text(Fixed.FileId)),
            ("file_key", Hex(fileKey)),
            ("nonce_prefix", Hex(prefix)));
    }

    private static JsonObject Attachment(string name, int length, byte[] fileKey, byte[] prefix, bool fullCiphertext)
    {
        var plaintext = Spec.AttachmentPlaintext(length);
        var chunkCount = Math.Max(1, (length + Spec.ChunkSize - 1) / Spec.ChunkSize);
        var chunks = new JsonArray();
        var whole = new List<byte>();
        for (var index = 0; index < chunkCount; index++)
        {
            var last = index == chunkCount - 1;
            var part = plaintext.AsSpan(index * Spec.ChunkSize, Math.Min(Spec.ChunkSize, length - (index * Spec.ChunkSize))).ToArray();
            var nonce = Spec.AttachmentNonce(prefix, (uint)index, last);
            var aad = Spec.AttachmentAad(Fixed.FileId, (uint)index, last);
            var ciphertext = Spec.Gcm(fileKey, nonce, aad, part);
            whole.AddRange(ciphertext);
            var chunk = new JsonObject
            {
                ["index"] = index,
                ["last"] = last,
                ["plaintext_length"] = part.Length,
                ["nonce"] = Hex(nonce),
                ["associated_data"] = Hex(aad),
                ["ciphertext_sha256"] = Hex(System.Security.Cryptography.SHA256.HashData(ciphertext)),
                ["tag"] = Hex(ciphertext.AsSpan(ciphertext.Length - 16)),
            };
            if (fullCiphertext)
            {
                chunk["ciphertext"] = Hex(ciphertext);
            }

            chunks.Add(chunk);
        }

        return new JsonObject
        {
            ["name"] = name,
            ["plaintext_length"] = length,
            ["ciphertext_length"] = whole.Count,
            ["ciphertext_sha256"] = Hex(System.Security.Cryptography.SHA256.HashData([.. whole])),
            ["chunks"] = chunks,
        };
    }
}
