using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ChatWire.Testing;
using NSec.Cryptography;

namespace ChatWire.Gateway.Tests.Infrastructure;

/// <summary>
/// Key material as a client makes it (the formats of docs/e2e.md), built with NSec directly, and the calls that
/// publish it. The server checks lengths and versions, not signatures, but the tests send what a client sends.
/// </summary>
internal sealed class E2eKeys : IDisposable
{
    public const string ContentType = "application/vnd.chatwire.e2e";

    private static KeyCreationParameters Exportable => new() { ExportPolicy = KeyExportPolicies.AllowPlaintextExport };

    private readonly bool _ownsAccount;

    public E2eKeys(TestUser user)
    {
        User = user;
        _ownsAccount = true;
        Account = Key.Create(SignatureAlgorithm.Ed25519, Exportable);
        DeviceSigning = Key.Create(SignatureAlgorithm.Ed25519, Exportable);
        DeviceDh = Key.Create(KeyAgreementAlgorithm.X25519, Exportable);
    }

    public TestUser User { get; }

    public Key Account { get; }

    public Key DeviceSigning { get; }

    public Key DeviceDh { get; }

    public long CreatedAtMs { get; } = 1_764_000_000_000;

    public static byte[] Public(Key key) => key.PublicKey.Export(KeyBlobFormat.RawPublicKey);

    public static string B64(byte[] bytes) => Convert.ToBase64String(bytes);

    public static byte[] Id(Guid id)
    {
        var bytes = new byte[16];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        return bytes;
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    public static byte[] Ascii(string label) => Encoding.ASCII.GetBytes(label);

    public static byte[] U32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    public static byte[] U64(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        return bytes;
    }

    /// <summary>A sealed seed stand-in of a history-mode seal's size: the server never opens it.</summary>
    public static string Sealed() => B64(RandomNumberGenerator.GetBytes(252));

    public byte[] CertificateBody(uint version = 1) => Concat(
        Ascii("CW-devcert-v1"), Id(User.UserId), Id(User.DeviceId), Public(DeviceSigning), Public(DeviceDh), U64((ulong)CreatedAtMs), U32(version));

    public byte[] AccountSignature() => SignatureAlgorithm.Ed25519.Sign(Account, CertificateBody());

    public byte[] CertificateHash() => SHA256.HashData(Concat(CertificateBody(), AccountSignature()));

    public object DeviceKeysBody() => new
    {
        signing_key = B64(Public(DeviceSigning)),
        dh_key = B64(Public(DeviceDh)),
        created_at_ms = CreatedAtMs,
        certificate_version = 1,
        self_signature = B64(SignatureAlgorithm.Ed25519.Sign(DeviceSigning, CertificateBody())),
    };

    public object HistoryKeyBody(int generation, out Key historyKey)
    {
        historyKey = Key.Create(KeyAgreementAlgorithm.X25519, Exportable);
        var signature = SignatureAlgorithm.Ed25519.Sign(Account, Concat(Ascii("CW-hk-v1"), Id(User.UserId), U32((uint)generation), Public(historyKey)));
        return new { generation, public_key = B64(Public(historyKey)), signature = B64(signature) };
    }

    /// <summary>The signed device list of these devices (each an E2eKeys of the same user), entries sorted by id bytes.</summary>
    public object DeviceListBody(long version, params E2eKeys[] devices)
    {
        var sorted = devices.OrderBy(d => Convert.ToHexString(Id(d.User.DeviceId)), StringComparer.Ordinal).ToList();
        var body = Concat(
            [Ascii("CW-devlist-v1"), Id(User.UserId), U64((ulong)version), U32((uint)sorted.Count), .. sorted.Select(d => Concat(Id(d.User.DeviceId), d.CertificateHash()))]);
        return new
        {
            version,
            devices = sorted.Select(d => new { device_id = d.User.DeviceId, certificate_hash = B64(d.CertificateHash()) }).ToArray(),
            signature = B64(SignatureAlgorithm.Ed25519.Sign(Account, body)),
        };
    }

    /// <summary>
    /// Everything a first device publishes: account key, this device's keys with its certificate signed, a history
    /// key of <paramref name="historyGeneration"/> (none when 0) and a device list of this device alone.
    /// </summary>
    public async Task PublishAsync(int historyGeneration = 1)
    {
        await User.CallAsync(HttpMethod.Put, "v1/keys/account", new { signing_key = B64(Public(Account)) });
        await User.CallAsync(HttpMethod.Put, "v1/keys/devices/me", DeviceKeysBody());
        await User.CallAsync(HttpMethod.Put, $"v1/keys/devices/{User.DeviceId}/certificate", new { certificate_version = 1, account_signature = B64(AccountSignature()) });
        if (historyGeneration > 0)
        {
            await User.CallAsync(HttpMethod.Put, "v1/keys/history-key", HistoryKeyBody(historyGeneration, out var historyKey));
            historyKey.Dispose();
        }

        await User.CallAsync(HttpMethod.Put, "v1/keys/device-list", DeviceListBody(1, this));
    }

    /// <summary>A second device of the same user, sharing the account key (as linking gives it).</summary>
    public E2eKeys Linked(TestUser device) => new(device, Account);

    private E2eKeys(TestUser user, Key account)
    {
        User = user;
        Account = account;
        DeviceSigning = Key.Create(SignatureAlgorithm.Ed25519, Exportable);
        DeviceDh = Key.Create(KeyAgreementAlgorithm.X25519, Exportable);
    }

    public void Dispose()
    {
        DeviceSigning.Dispose();
        DeviceDh.Dispose();
        if (_ownsAccount)
        {
            Account.Dispose();
        }
    }

    public static async Task<JsonElement> StateAsync(TestUser user, Guid conversationId) =>
        await user.CallAsync(HttpMethod.Get, $"v1/conversations/{conversationId}/e2e");
}
