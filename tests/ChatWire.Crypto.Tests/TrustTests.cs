namespace ChatWire.Crypto.Tests;

public sealed class TrustTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("chatwire-trust-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void ObserveAccountKey_FirstSameChangedVerified_AsObserved()
    {
        using var store = DeviceKeyStore.Open(_root);
        store.CreateDeviceKeys(Guid.CreateVersion7(), Guid.CreateVersion7());
        var bob = Guid.CreateVersion7();
        var first = AccountSigningKey.Generate().PublicKey;
        var second = AccountSigningKey.Generate().PublicKey;

        Assert.Equal(AccountKeyObservation.FirstSeen, store.ObserveAccountKey(bob, first));
        Assert.Equal(AccountKeyObservation.Unchanged, store.ObserveAccountKey(bob, first));
        Assert.False(store.MarkVerified(bob, second));
        Assert.True(store.MarkVerified(bob, first));
        Assert.True(store.IsVerified(bob));
        Assert.Equal(AccountKeyObservation.ChangedWasVerified, store.ObserveAccountKey(bob, second));
        Assert.False(store.IsVerified(bob));
        Assert.Equal(AccountKeyObservation.Changed, store.ObserveAccountKey(bob, first));
    }

    [Fact]
    public void TrustedDevices_UnlistedOrUnapproved_Excluded()
    {
        var user = Guid.CreateVersion7();
        var ask = AccountSigningKey.Generate();
        var listed = DeviceCertificate.Create(user, Guid.CreateVersion7(), DeviceKeys.Generate(), 1).ApproveWith(ask);
        var unlisted = DeviceCertificate.Create(user, Guid.CreateVersion7(), DeviceKeys.Generate(), 1).ApproveWith(ask);
        var otherAccount = DeviceCertificate.Create(user, Guid.CreateVersion7(), DeviceKeys.Generate(), 1).ApproveWith(AccountSigningKey.Generate());
        var list = SignedDeviceList.Create(ask, user, 1, [new DeviceListEntry(listed.DeviceId, listed.Hash()), new DeviceListEntry(otherAccount.DeviceId, otherAccount.Hash())]);

        var trusted = list.TrustedDevices([listed, unlisted, otherAccount, listed with { AccountSignature = null }], ask.PublicKey);

        Assert.Equal([listed.DeviceId], trusted.Select(certificate => certificate.DeviceId));
    }
}
