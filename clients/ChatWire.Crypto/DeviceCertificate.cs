using System.Security.Cryptography;

namespace ChatWire.Crypto;

/// <summary>
/// A device certificate: the device's public keys bound to its user and device ids, signed by the device itself (it
/// holds the DSK) and, once approved, by the account signing key. Its hash is what the signed device list lists.
/// </summary>
/// <param name="UserId">The user the device belongs to.</param>
/// <param name="DeviceId">The device id.</param>
/// <param name="SigningKey">DSK public key (Ed25519, 32 bytes).</param>
/// <param name="DhKey">DDK public key (X25519, 32 bytes).</param>
/// <param name="CreatedAtMs">Creation time, Unix milliseconds.</param>
/// <param name="CertificateVersion">The certificate version (1 for the first).</param>
/// <param name="SelfSignature">Sign_DSK(body).</param>
/// <param name="AccountSignature">Sign_ASK(body), or null while the device is not approved.</param>
public sealed record DeviceCertificate(
    Guid UserId,
    Guid DeviceId,
    byte[] SigningKey,
    byte[] DhKey,
    long CreatedAtMs,
    uint CertificateVersion,
    byte[] SelfSignature,
    byte[]? AccountSignature)
{
    /// <summary>Creates the self-signed certificate of <paramref name="keys"/>.</summary>
    public static DeviceCertificate Create(Guid userId, Guid deviceId, DeviceKeys keys, long createdAtMs, uint certificateVersion = 1)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var body = Body(userId, deviceId, keys.Signing.PublicKey, keys.Dh.PublicKey, createdAtMs, certificateVersion);
        return new DeviceCertificate(userId, deviceId, keys.Signing.PublicKey, keys.Dh.PublicKey, createdAtMs, certificateVersion, keys.Sign(body), null);
    }

    /// <summary>
    /// The certificate body: "CW-devcert-v1" || user_id || device_id || DSK_pub || DDK_pub || u64 created_at_ms || u32 cert_version.
    /// </summary>
    public byte[] Body() => Body(UserId, DeviceId, SigningKey, DhKey, CreatedAtMs, CertificateVersion);

    /// <summary>This certificate with the account signature of <paramref name="accountKey"/> (approving the device).</summary>
    public DeviceCertificate ApproveWith(AccountSigningKey accountKey)
    {
        ArgumentNullException.ThrowIfNull(accountKey);
        if (!VerifySelf())
        {
            throw new ChatWireCryptoException(CryptoError.BadSignature, "The device's self-signature does not verify; it is not approved.");
        }

        return this with { AccountSignature = accountKey.Sign(Body()) };
    }

    /// <summary>Whether the self-signature verifies under the certificate's own DSK.</summary>
    public bool VerifySelf() => KeysWellFormed() && Primitives.Verify(SigningKey, Body(), SelfSignature);

    /// <summary>Whether both signatures verify: the self-signature and the account signature under <paramref name="accountSigningPublicKey"/>.</summary>
    public bool Verify(ReadOnlySpan<byte> accountSigningPublicKey) =>
        AccountSignature is not null && VerifySelf() && Primitives.Verify(accountSigningPublicKey, Body(), AccountSignature);

    /// <summary>certificate_hash = SHA-256(body || account_signature); needs the account signature.</summary>
    public byte[] Hash()
    {
        if (AccountSignature is null)
        {
            throw new InvalidOperationException("An unapproved certificate has no hash: the hash covers the account signature.");
        }

        return SHA256.HashData(new ByteWriter(256).Bytes(Body()).Bytes(AccountSignature).WrittenSpan);
    }

    /// <summary>The device's link code, "XXXXX-XXXXX" (<see cref="Crypto.LinkCode"/>).</summary>
    public string LinkCode() => Crypto.LinkCode.Compute(UserId, DeviceId, SigningKey, DhKey);

    private bool KeysWellFormed() => SigningKey.Length == Primitives.KeySize && DhKey.Length == Primitives.KeySize;

    internal static byte[] Body(Guid userId, Guid deviceId, ReadOnlySpan<byte> signingKey, ReadOnlySpan<byte> dhKey, long createdAtMs, uint certificateVersion) =>
        new ByteWriter(128)
            .Bytes(Labels.DeviceCertificate).Id(userId).Id(deviceId).Bytes(signingKey).Bytes(dhKey)
            .U64((ulong)createdAtMs).U32(certificateVersion)
            .ToArray();
}

/// <summary>
/// The code a new device shows so an existing device can find and approve it: base32 of the first 50 bits of
/// SHA-256("CW-link-v1" || user_id || device_id || DSK_pub || DDK_pub), shown "XXXXX-XXXXX".
/// </summary>
public static class LinkCode
{
    /// <summary>The link code of a device's keys, as shown: ten base32 characters with a dash in the middle.</summary>
    public static string Compute(Guid userId, Guid deviceId, ReadOnlySpan<byte> signingKey, ReadOnlySpan<byte> dhKey)
    {
        var hash = SHA256.HashData(new ByteWriter(128).Bytes(Labels.LinkCode).Id(userId).Id(deviceId).Bytes(signingKey).Bytes(dhKey).WrittenSpan);
        var code = Base32.EncodeBits(hash, 50);
        return code[..5] + "-" + code[5..];
    }

    /// <summary>The ten characters without the dash, upper case, as the server stores them; null if it is not a link code.</summary>
    public static string? Normalize(string code)
    {
        ArgumentNullException.ThrowIfNull(code);
        // Checked before upper-casing, which would also turn 'ı' into 'I': only ASCII letters are the alphabet.
        var compact = code.Replace("-", "", StringComparison.Ordinal).Trim();
        return compact.Length == 10 && Base32.IsAlphabet(compact) ? compact.ToUpperInvariant() : null;
    }

    /// <summary>Whether two link codes are the same code (dash and case ignored), in constant time.</summary>
    public static bool Matches(string a, string b)
    {
        var x = Normalize(a);
        var y = Normalize(b);
        return x is not null && y is not null
            && CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(x), System.Text.Encoding.ASCII.GetBytes(y));
    }
}
