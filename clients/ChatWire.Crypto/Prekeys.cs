namespace ChatWire.Crypto;

/// <summary>A signed prekey's public form, as PUT /v1/keys/devices/me/signed-prekey carries it.</summary>
/// <param name="PrekeyId">The prekey id.</param>
/// <param name="PublicKey">SPK public key (X25519, 32 bytes).</param>
/// <param name="Signature">Sign_DSK("CW-spk-v1" || device_id || u32 prekey_id || SPK_pub).</param>
public sealed record SignedPrekey(uint PrekeyId, byte[] PublicKey, byte[] Signature)
{
    /// <summary>A new signed prekey for <paramref name="deviceId"/>, signed by its DSK; the private key is in <paramref name="privateKey"/>.</summary>
    public static SignedPrekey Generate(DeviceKeys deviceKeys, Guid deviceId, uint prekeyId, out byte[] privateKey)
    {
        ArgumentNullException.ThrowIfNull(deviceKeys);
        var pair = Primitives.GenerateX25519();
        privateKey = pair.PrivateKey;
        return new SignedPrekey(prekeyId, pair.PublicKey, deviceKeys.Sign(Body(deviceId, prekeyId, pair.PublicKey)));
    }

    /// <summary>Whether the signature verifies under the device's DSK.</summary>
    public bool Verify(Guid deviceId, ReadOnlySpan<byte> deviceSigningPublicKey) =>
        PublicKey.Length == Primitives.KeySize && Primitives.Verify(deviceSigningPublicKey, Body(deviceId, PrekeyId, PublicKey), Signature);

    internal static byte[] Body(Guid deviceId, uint prekeyId, ReadOnlySpan<byte> publicKey) =>
        new ByteWriter(64).Bytes(Labels.SignedPrekey).Id(deviceId).U32(prekeyId).Bytes(publicKey).ToArray();
}

/// <summary>A one-time prekey: X25519, handed out by the server at most once.</summary>
/// <param name="PrekeyId">The prekey id.</param>
/// <param name="PublicKey">The public key (32 bytes).</param>
public sealed record OneTimePrekey(uint PrekeyId, byte[] PublicKey)
{
    /// <summary>Upload batch size (POST /v1/keys/devices/me/one-time-prekeys takes at most this many).</summary>
    public const int BatchSize = 100;

    /// <summary>Top up when the server holds fewer than this many.</summary>
    public const int TopUpBelow = 20;
}
