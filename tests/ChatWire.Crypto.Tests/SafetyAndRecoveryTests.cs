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

    // Non-ASCII letters whose upper case is an ASCII letter of the alphabet (dotless i, long s): not the alphabet.
    [InlineData("\u0131AAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA")]
    [InlineData("\u017FAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA")]
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

    [Fact]
    public void RecoveryBackup_ResealWithoutTheRecoveryKey_OpensWithItAndHoldsTheNewGeneration()
    {
        var user = Guid.CreateVersion7();
        var recoveryKey = RecoveryKey.Generate();
        var ask = AccountSigningKey.Generate();
        var first = RecoveryBackup.Seal(recoveryKey, user, ask, [HistoryKey.Generate(1)]);

        var refreshed = RecoveryBackup.Reseal(first, user, ask, [HistoryKey.Generate(1), HistoryKey.Generate(2)]);
        var again = RecoveryBackup.Reseal(first, user, ask, [HistoryKey.Generate(1), HistoryKey.Generate(2)]);
        var (openedAsk, openedHistory) = RecoveryBackup.Open(recoveryKey, user, refreshed);

        Assert.Equal(ask.PrivateKey, openedAsk.PrivateKey);
        Assert.Equal([1u, 2u], openedHistory.Select(key => key.Generation));
        // The same header (the backup key pair and its signature), a new ephemeral key and ciphertext each time.
        Assert.Equal(first.AsSpan(0, 97).ToArray(), refreshed.AsSpan(0, 97).ToArray());
        Assert.NotEqual(refreshed.AsSpan(97, 32).ToArray(), again.AsSpan(97, 32).ToArray());
        Assert.Equal(CryptoError.DecryptionFailed, Assert.Throws<ChatWireCryptoException>(() => RecoveryBackup.Open(RecoveryKey.Generate(), user, refreshed)).Error);
    }

    [Fact]
    public void RecoveryBackup_ResealOverAKeyPairNotSignedByMyAccountKey_BadSignature()
    {
        var user = Guid.CreateVersion7();
        var ask = AccountSigningKey.Generate();

        // A server that swapped in a backup of its own (another recovery key, signed by another account key) would
        // receive the next refresh sealed to a key it holds; the signature check refuses it.
        var substituted = RecoveryBackup.Seal(RecoveryKey.Generate(), user, AccountSigningKey.Generate(), []);
        var forOtherUser = RecoveryBackup.Seal(RecoveryKey.Generate(), Guid.CreateVersion7(), ask, []);

        Assert.Equal(CryptoError.BadSignature, Assert.Throws<ChatWireCryptoException>(() => RecoveryBackup.Reseal(substituted, user, ask, [HistoryKey.Generate(1)])).Error);
        Assert.Equal(CryptoError.BadSignature, Assert.Throws<ChatWireCryptoException>(() => RecoveryBackup.Reseal(forOtherUser, user, ask, [HistoryKey.Generate(1)])).Error);
        Assert.Equal(CryptoError.Malformed, Assert.Throws<ChatWireCryptoException>(() => RecoveryBackup.Reseal(substituted.AsSpan(0, 100), user, ask, [])).Error);
    }

    [Theory]
    [InlineData(0, CryptoError.Malformed)]
    [InlineData(1, CryptoError.DecryptionFailed)]
    [InlineData(40, CryptoError.DecryptionFailed)]
    [InlineData(100, CryptoError.DecryptionFailed)]
    [InlineData(140, CryptoError.DecryptionFailed)]
    public void RecoveryBackup_AnyByteAltered_Refused(int offset, CryptoError expected)
    {
        var user = Guid.CreateVersion7();
        var recoveryKey = RecoveryKey.Generate();
        var backup = RecoveryBackup.Seal(recoveryKey, user, AccountSigningKey.Generate(), [HistoryKey.Generate(1)]);
        backup[offset] ^= 0x01;

        // The version byte; then the backup public key, its signature (both in the associated data), the ephemeral
        // key and the ciphertext, none of which survive decryption altered.
        Assert.Equal(expected, Assert.Throws<ChatWireCryptoException>(() => RecoveryBackup.Open(recoveryKey, user, backup)).Error);
    }
}
