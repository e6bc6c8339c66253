namespace ChatWire.Crypto.Tests;

public sealed class IdentityTests
{
    private static readonly Guid User = Guid.Parse("01890a5d-ac96-774b-bcce-b302099a8057");
    private static readonly Guid Device = Guid.Parse("01890a5d-ac96-774b-bcce-b302099a8058");

    [Fact]
    public void SignedHistoryKey_Verify_BindsUserGenerationAndKey()
    {
        var ask = AccountSigningKey.Generate();
        var signed = ask.SignHistoryKey(User, HistoryKey.Generate(3));

        Assert.True(signed.Verify(User, ask.PublicKey));
        Assert.False(signed.Verify(Device, ask.PublicKey));
        Assert.False((signed with { Generation = 4 }).Verify(User, ask.PublicKey));
        Assert.False(signed.Verify(User, AccountSigningKey.Generate().PublicKey));
    }

    [Fact]
    public void SignedHistoryKey_Body_IsLabelUserGenerationKey()
    {
        var key = new byte[32];
        key[0] = 0xAA;

        var body = SignedHistoryKey.Body(User, 0x01020304, key);

        Assert.Equal("CW-hk-v1"u8.ToArray(), body[..8]);
        Assert.Equal(Convert.FromHexString("01890a5dac96774bbcceb302099a8057"), body[8..24]);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, body[24..28]);
        Assert.Equal(key, body[28..]);
    }

    [Fact]
    public void AccountSigningKey_FromPrivateKey_SamePublicKey()
    {
        var ask = AccountSigningKey.Generate();

        Assert.Equal(ask.PublicKey, AccountSigningKey.FromPrivateKey(ask.PrivateKey).PublicKey);
        Assert.Throws<ChatWireCryptoException>(() => AccountSigningKey.FromPrivateKey(new byte[31]));
    }

    [Fact]
    public void DeviceCertificate_ApprovedByAccount_VerifiesAndHashes()
    {
        var ask = AccountSigningKey.Generate();
        var certificate = DeviceCertificate.Create(User, Device, DeviceKeys.Generate(), 1_700_000_000_000);

        Assert.True(certificate.VerifySelf());
        Assert.False(certificate.Verify(ask.PublicKey));
        Assert.Throws<InvalidOperationException>(() => certificate.Hash());

        var approved = certificate.ApproveWith(ask);

        Assert.True(approved.Verify(ask.PublicKey));
        Assert.False(approved.Verify(AccountSigningKey.Generate().PublicKey));
        Assert.Equal(32, approved.Hash().Length);
        Assert.False((approved with { CertificateVersion = 2 }).Verify(ask.PublicKey));
    }

    [Fact]
    public void DeviceCertificate_Body_HasContractLayout()
    {
        var certificate = DeviceCertificate.Create(User, Device, DeviceKeys.Generate(), 0x0102030405060708, 9);

        var body = certificate.Body();

        Assert.Equal(13 + 16 + 16 + 32 + 32 + 8 + 4, body.Length);
        Assert.Equal("CW-devcert-v1"u8.ToArray(), body[..13]);
        Assert.Equal(certificate.SigningKey, body[45..77]);
        Assert.Equal(certificate.DhKey, body[77..109]);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 9 }, body[109..]);
    }

    [Fact]
    public void ApproveWith_ForgedSelfSignature_Throws()
    {
        var certificate = DeviceCertificate.Create(User, Device, DeviceKeys.Generate(), 1);
        var forged = certificate with { SigningKey = DeviceKeys.Generate().Signing.PublicKey };

        var error = Assert.Throws<ChatWireCryptoException>(() => forged.ApproveWith(AccountSigningKey.Generate()));

        Assert.Equal(CryptoError.BadSignature, error.Error);
    }

    [Fact]
    public void LinkCode_Compute_TenBase32CharactersWithDash()
    {
        var keys = DeviceKeys.Generate();

        var code = LinkCode.Compute(User, Device, keys.Signing.PublicKey, keys.Dh.PublicKey);

        Assert.Matches("^[A-Z2-7]{5}-[A-Z2-7]{5}$", code);
        Assert.Equal(code, LinkCode.Compute(User, Device, keys.Signing.PublicKey, keys.Dh.PublicKey));
        Assert.NotEqual(code, LinkCode.Compute(User, User, keys.Signing.PublicKey, keys.Dh.PublicKey));
        Assert.Equal(code.Replace("-", "", StringComparison.Ordinal), LinkCode.Normalize(code.ToLowerInvariant()));
        Assert.True(LinkCode.Matches(code, code.Replace("-", "", StringComparison.Ordinal).ToLowerInvariant()));
        Assert.Null(LinkCode.Normalize("ABCDE-FGH1J"));
    }

    [Fact]
    public void LinkCode_Compute_IsFirst50BitsOfHash()
    {
        var keys = DeviceKeys.Generate();
        var hash = System.Security.Cryptography.SHA256.HashData(
            [.. "CW-link-v1"u8.ToArray(), .. Convert.FromHexString("01890a5dac96774bbcceb302099a8057"), .. Convert.FromHexString("01890a5dac96774bbcceb302099a8058"),
             .. keys.Signing.PublicKey, .. keys.Dh.PublicKey]);
        var bits = string.Concat(hash.Take(7).Select(b => Convert.ToString(b, 2).PadLeft(8, '0')))[..50];
        var expected = string.Concat(Enumerable.Range(0, 10).Select(i => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[Convert.ToInt32(bits.Substring(i * 5, 5), 2)]));

        Assert.Equal(expected[..5] + "-" + expected[5..], LinkCode.Compute(User, Device, keys.Signing.PublicKey, keys.Dh.PublicKey));
    }

    [Fact]
    public void SignedDeviceList_EntriesInAnyOrder_SameBodyAndVerifies()
    {
        var ask = AccountSigningKey.Generate();
        var a = new DeviceListEntry(Guid.Parse("ff000000-0000-7000-8000-000000000000"), new byte[32]);
        var b = new DeviceListEntry(Guid.Parse("00000000-0000-7000-8000-000000000001"), Enumerable.Repeat((byte)1, 32).ToArray());

        var list = SignedDeviceList.Create(ask, User, 5, [a, b]);
        var reordered = list with { Devices = [a, b] };

        Assert.Equal(b.DeviceId, list.Devices[0].DeviceId);
        Assert.True(reordered.Verify(ask.PublicKey));
        Assert.False((list with { Version = 6 }).Verify(ask.PublicKey));
        Assert.False((list with { Devices = [a] }).Verify(ask.PublicKey));
    }

    [Fact]
    public void VerifyNotRolledBack_LowerVersion_ThrowsRollback()
    {
        var ask = AccountSigningKey.Generate();
        var list = SignedDeviceList.Create(ask, User, 4, []);

        list.VerifyNotRolledBack(ask.PublicKey, 4);
        list.VerifyNotRolledBack(ask.PublicKey, null);
        var rollback = Assert.Throws<ChatWireCryptoException>(() => list.VerifyNotRolledBack(ask.PublicKey, 5));
        var forged = Assert.Throws<ChatWireCryptoException>(() => list.VerifyNotRolledBack(AccountSigningKey.Generate().PublicKey, null));

        Assert.Equal(CryptoError.Rollback, rollback.Error);
        Assert.Equal(CryptoError.BadSignature, forged.Error);
    }

    [Fact]
    public void Lists_CertificateWithOtherHash_False()
    {
        var ask = AccountSigningKey.Generate();
        var certificate = DeviceCertificate.Create(User, Device, DeviceKeys.Generate(), 1).ApproveWith(ask);
        var other = DeviceCertificate.Create(User, Device, DeviceKeys.Generate(), 1).ApproveWith(ask);

        var list = SignedDeviceList.Create(ask, User, 1, [new DeviceListEntry(Device, certificate.Hash())]);

        Assert.True(list.Lists(certificate));
        Assert.False(list.Lists(other));
    }

    [Fact]
    public void SignedPrekey_Verify_BindsDeviceAndId()
    {
        var keys = DeviceKeys.Generate();

        var prekey = SignedPrekey.Generate(keys, Device, 7, out var privateKey);

        Assert.Equal(prekey.PublicKey, Primitives.X25519PublicKey(privateKey));
        Assert.True(prekey.Verify(Device, keys.Signing.PublicKey));
        Assert.False(prekey.Verify(User, keys.Signing.PublicKey));
        Assert.False((prekey with { PrekeyId = 8 }).Verify(Device, keys.Signing.PublicKey));
    }
}
