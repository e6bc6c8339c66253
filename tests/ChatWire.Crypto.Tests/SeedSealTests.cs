namespace ChatWire.Crypto.Tests;

public sealed class SeedSealTests
{
    private static readonly Guid Recipient = Guid.CreateVersion7();

    [Fact]
    public void SeedPayload_Encode_Is140BytesAndRoundTrips()
    {
        var seed = Seed();

        var bytes = seed.Encode();
        var decoded = SeedPayload.Decode(bytes);

        Assert.Equal(140, bytes.Length);
        Assert.Equal(seed.ChainKey, decoded.ChainKey);
        Assert.Equal(seed with { ChainKey = decoded.ChainKey, SigningPublicKey = decoded.SigningPublicKey }, decoded);
        Assert.Throws<ChatWireCryptoException>(() => SeedPayload.Decode(bytes.AsSpan(0, 139)));
        Assert.Throws<ChatWireCryptoException>(() => SeedPayload.Decode([.. bytes, 0]));
    }

    [Fact]
    public void OpenFromHistoryKey_Sealed_ReturnsSeed()
    {
        var (seed, sender, historyKey, sealedBlob) = SealOne();

        var opened = Open(sealedBlob, historyKey, seed, sender.Signing.PublicKey);

        Assert.Equal(seed.Encode(), opened.Encode());
        Assert.Equal(32 + 140 + 16 + 64, sealedBlob.Length);
    }

    [Fact]
    public void OpenFromHistoryKey_SignedByOtherDevice_BadSignature()
    {
        var (seed, _, historyKey, sealedBlob) = SealOne();

        var error = Assert.Throws<ChatWireCryptoException>(() => Open(sealedBlob, historyKey, seed, DeviceKeys.Generate().Signing.PublicKey));

        Assert.Equal(CryptoError.BadSignature, error.Error);
    }

    [Fact]
    public void OpenFromHistoryKey_OtherChainInAad_DecryptionFailed()
    {
        var (seed, sender, historyKey, sealedBlob) = SealOne();

        var error = Assert.Throws<ChatWireCryptoException>(() => Open(sealedBlob, historyKey, seed with { ChainId = Guid.CreateVersion7() }, sender.Signing.PublicKey));

        Assert.Equal(CryptoError.DecryptionFailed, error.Error);
    }

    [Fact]
    public void OpenFromHistoryKey_OtherGeneration_BadSignature()
    {
        var (seed, sender, historyKey, sealedBlob) = SealOne();
        var otherGeneration = HistoryKey.FromPrivateKey(historyKey.Generation + 1, historyKey.PrivateKey);

        var error = Assert.Throws<ChatWireCryptoException>(() => Open(sealedBlob, otherGeneration, seed, sender.Signing.PublicKey));

        Assert.Equal(CryptoError.BadSignature, error.Error);
    }

    [Fact]
    public void SealToHistoryKey_LowOrderHistoryKey_AllZero()
    {
        var error = Assert.Throws<ChatWireCryptoException>(() => SeedSeal.SealToHistoryKey(Seed(), Recipient, 1, new byte[32], DeviceKeys.Generate()));

        Assert.Equal(CryptoError.AllZeroSharedSecret, error.Error);
    }

    [Fact]
    public void OpenFromHistoryKey_SenderNamedDifferently_WrongSender()
    {
        var (seed, sender, historyKey, sealedBlob) = SealOne();

        var error = Assert.Throws<ChatWireCryptoException>(() => SeedSeal.OpenFromHistoryKey(
            sealedBlob, Recipient, historyKey, seed.ConversationId, seed.Epoch, seed.ChainId, Guid.CreateVersion7(), seed.SenderDeviceId, sender.Signing.PublicKey));

        Assert.Equal(CryptoError.WrongSender, error.Error);
    }

    internal static SeedPayload Seed() => new(
        Guid.CreateVersion7(), 3, Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7(), 0, Primitives.Random(32), Primitives.GenerateEd25519().PublicKey);

    private static (SeedPayload Seed, DeviceKeys Sender, HistoryKey HistoryKey, byte[] Sealed) SealOne()
    {
        var seed = Seed();
        var sender = DeviceKeys.Generate();
        var historyKey = HistoryKey.Generate(2);
        return (seed, sender, historyKey, SeedSeal.SealToHistoryKey(seed, Recipient, 2, historyKey.PublicKey, sender));
    }

    private static SeedPayload Open(byte[] sealedBlob, HistoryKey historyKey, SeedPayload names, byte[] senderSigningKey) =>
        SeedSeal.OpenFromHistoryKey(
            sealedBlob, Recipient, historyKey, names.ConversationId, names.Epoch, names.ChainId, names.SenderUserId, names.SenderDeviceId, senderSigningKey);
}
