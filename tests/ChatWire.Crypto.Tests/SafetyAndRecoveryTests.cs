using System.Security.Cryptography;

namespace ChatWire.Crypto.Tests;

public sealed class SafetyAndRecoveryTests
{
    [Fact]
    public void Compute_EitherOrder_Same60Digits()
    {
        var (userA, keyA, userB, keyB) = (Guid.CreateVersion7(), Primitives.GenerateEd25519().PublicKey, Guid.CreateVersion7(), Primitives.GenerateEd25519().PublicKey);

        var number = SafetyNumber.Compute(userA, keyA, userB, keyB);

        Assert.Equal(number, SafetyNumber.Compute(userB, keyB, userA, keyA));
        Assert.Matches("^[0-9]{60}$", number);
        Assert.Matches("^([0-9]{5} ){11}[0-9]{5}$", SafetyNumber.Format(number));
        Assert.True(SafetyNumber.Matches(number, SafetyNumber.Format(number)));
        Assert.NotEqual(number, SafetyNumber.Compute(userA, Primitives.GenerateEd25519().PublicKey, userB, keyB));
    }

    [Fact]
    public void Half_IteratedHash_MatchesConstruction()
    {
        var user = Guid.CreateVersion7();
        var key = Primitives.GenerateEd25519().PublicKey;
        byte[] hash = [0, 0, .. key, .. Convert.FromHexString(user.ToString("N"))];
        for (var i = 0; i < 5200; i++)
        {
            hash = SHA256.HashData([.. hash, .. key]);
        }

        var expected = string.Concat(Enumerable.Range(0, 6).Select(i =>
            (((ulong)hash[i * 5] << 32 | (ulong)hash[(i * 5) + 1] << 24 | (ulong)hash[(i * 5) + 2] << 16 | (ulong)hash[(i * 5) + 3] << 8 | hash[(i * 5) + 4]) % 100000).ToString("D5", System.Globalization.CultureInfo.InvariantCulture)));

        Assert.Equal(expected, SafetyNumber.Half(user, key));
    }

    [Fact]
    public void Matches_DifferentOrMalformed_False()
    {
        var number = new string('1', 60);

        Assert.False(SafetyNumber.Matches(number, new string('1', 59) + "2"));
        Assert.False(SafetyNumber.Matches(number, new string('1', 59)));
    }

    [Fact]
    public void RecoveryKey_FormatThenParse_SameBytes()
    {
        var key = RecoveryKey.Generate();

        var text = key.Format();
        var parsed = RecoveryKey.TryParse(text.ToLowerInvariant().Replace('-', ' '));

        Assert.Matches("^([A-Z2-7]{4}-){12}[A-Z2-7]{4}$", text);
        Assert.Equal(key.Bytes, parsed!.Bytes);
        Assert.DoesNotContain(text, key.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("AAAA")]
    [InlineData("AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAA1")]
    [InlineData("AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAB")]
    public void TryParse_NotARecoveryKey_Null(string text)
    {
        Assert.Null(RecoveryKey.TryParse(text));
    }

    [Fact]
    public void RecoveryBackup_Open_ReturnsKeysOnlyForRightKeyAndUser()
    {
        var user = Guid.CreateVersion7();
        var recoveryKey = RecoveryKey.Generate();
        var ask = AccountSigningKey.Generate();
        var historyKeys = new[] { HistoryKey.Generate(2), HistoryKey.Generate(1) };

        var backup = RecoveryBackup.Seal(recoveryKey, user, ask, historyKeys);
        var (openedAsk, openedHistory) = RecoveryBackup.Open(recoveryKey, user, backup);

        Assert.Equal(ask.PrivateKey, openedAsk.PrivateKey);
        Assert.Equal([1u, 2u], openedHistory.Select(key => key.Generation));
        Assert.Equal(historyKeys[1].PublicKey, openedHistory[0].PublicKey);
        Assert.Equal(CryptoError.DecryptionFailed, Assert.Throws<ChatWireCryptoException>(() => RecoveryBackup.Open(RecoveryKey.Generate(), user, backup)).Error);
        Assert.Equal(CryptoError.DecryptionFailed, Assert.Throws<ChatWireCryptoException>(() => RecoveryBackup.Open(recoveryKey, Guid.CreateVersion7(), backup)).Error);
    }
}
