namespace ChatWire.Crypto;

/// <summary>One device on a signed device list: its id and its certificate hash.</summary>
/// <param name="DeviceId">The device id.</param>
/// <param name="CertificateHash">SHA-256(body || account_signature) of its certificate (32 bytes).</param>
public sealed record DeviceListEntry(Guid DeviceId, byte[] CertificateHash);

/// <summary>
/// The user's ASK-signed list of devices. A device not on it is never given keys; a list with a lower version than one
/// seen before is refused (<see cref="CryptoError.Rollback"/>), so the server cannot bring back a revoked device.
/// </summary>
/// <param name="UserId">The user.</param>
/// <param name="Version">The version, increasing with every change.</param>
/// <param name="Devices">The devices, sorted by device id bytes.</param>
/// <param name="Signature">Sign_ASK(body).</param>
public sealed record SignedDeviceList(Guid UserId, ulong Version, IReadOnlyList<DeviceListEntry> Devices, byte[] Signature)
{
    /// <summary>Signs a list of <paramref name="devices"/> (sorted here by id bytes) as <paramref name="version"/>.</summary>
    public static SignedDeviceList Create(AccountSigningKey accountKey, Guid userId, ulong version, IEnumerable<DeviceListEntry> devices)
    {
        ArgumentNullException.ThrowIfNull(accountKey);
        var sorted = Sort(devices);
        return new SignedDeviceList(userId, version, sorted, accountKey.Sign(Body(userId, version, sorted)));
    }

    /// <summary>"CW-devlist-v1" || user_id || u64 version || u32 count || count × (device_id || certificate_hash).</summary>
    public byte[] Body() => Body(UserId, Version, Sort(Devices));

    /// <summary>Whether the signature verifies under <paramref name="accountSigningPublicKey"/>.</summary>
    public bool Verify(ReadOnlySpan<byte> accountSigningPublicKey) =>
        Devices.All(entry => entry.CertificateHash.Length == 32) && Primitives.Verify(accountSigningPublicKey, Body(), Signature);

    /// <summary>
    /// Checks the signature and that the version is not below <paramref name="highestVersionSeen"/> (the caller keeps it:
    /// the key store does). Throws <see cref="CryptoError.BadSignature"/> or <see cref="CryptoError.Rollback"/>.
    /// </summary>
    public void VerifyNotRolledBack(ReadOnlySpan<byte> accountSigningPublicKey, ulong? highestVersionSeen)
    {
        if (!Verify(accountSigningPublicKey))
        {
            throw new ChatWireCryptoException(CryptoError.BadSignature, $"The device list of {UserId} is not signed by its account key.");
        }

        if (highestVersionSeen is { } seen && Version < seen)
        {
            throw new ChatWireCryptoException(CryptoError.Rollback, $"The device list of {UserId} is version {Version}, below version {seen} already seen.");
        }
    }

    /// <summary>Whether <paramref name="certificate"/> is on this list with the same certificate hash.</summary>
    public bool Lists(DeviceCertificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (certificate.UserId != UserId || certificate.AccountSignature is null)
        {
            return false;
        }

        var hash = certificate.Hash();
        return Devices.Any(entry => entry.DeviceId == certificate.DeviceId && DeviceKeys.KeyEquals(entry.CertificateHash, hash));
    }

    /// <summary>
    /// The devices that may be given keys: certificates whose both signatures verify under the account key and that
    /// this list names with the same certificate hash. Call after <see cref="VerifyNotRolledBack"/>.
    /// </summary>
    public IReadOnlyList<DeviceCertificate> TrustedDevices(IEnumerable<DeviceCertificate> certificates, ReadOnlySpan<byte> accountSigningPublicKey)
    {
        ArgumentNullException.ThrowIfNull(certificates);
        var trusted = new List<DeviceCertificate>();
        foreach (var certificate in certificates)
        {
            if (certificate.Verify(accountSigningPublicKey) && Lists(certificate))
            {
                trusted.Add(certificate);
            }
        }

        return trusted;
    }

    private static List<DeviceListEntry> Sort(IEnumerable<DeviceListEntry> devices)
    {
        ArgumentNullException.ThrowIfNull(devices);
        var sorted = devices.ToList();
        sorted.Sort((a, b) => CompareIdBytes(a.DeviceId, b.DeviceId));
        return sorted;
    }

    internal static int CompareIdBytes(Guid a, Guid b)
    {
        Span<byte> x = stackalloc byte[16];
        Span<byte> y = stackalloc byte[16];
        a.TryWriteBytes(x, bigEndian: true, out _);
        b.TryWriteBytes(y, bigEndian: true, out _);
        return x.SequenceCompareTo(y);
    }

    private static byte[] Body(Guid userId, ulong version, List<DeviceListEntry> sorted)
    {
        var writer = new ByteWriter(64 + (sorted.Count * 48)).Bytes(Labels.DeviceList).Id(userId).U64(version).U32((uint)sorted.Count);
        foreach (var entry in sorted)
        {
            if (entry.CertificateHash.Length != 32)
            {
                throw ChatWireCryptoException.Malformed("A certificate hash is 32 bytes.");
            }

            writer.Id(entry.DeviceId).Bytes(entry.CertificateHash);
        }

        return writer.ToArray();
    }
}
