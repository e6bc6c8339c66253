namespace ChatWire.Crypto.Tests.KnownAnswer;

/// <summary>
/// Wycheproof x25519_test.json (518 tests, one group, curve25519) through <see cref="Primitives.Agree"/>, the one
/// X25519 entry point of ChatWire. Every test runs; none is skipped.
/// - valid (264): the shared secret equals "shared".
/// - acceptable with the ZeroSharedSecret flag (31: low-order public keys, incl. non-canonical encodings of them):
///   refused with <see cref="CryptoError.AllZeroSharedSecret"/>, as RFC 7748 §6.1 allows and E2E.md §2 requires.
/// - acceptable without it (223: points on the twist, non-canonical u ≥ p, the top bit set): accepted and the shared
///   secret must equal "shared". RFC 7748 §5 says to mask the top bit and take u mod p; with a clamped scalar a twist
///   point gives no small-subgroup leak, and ChatWire only ever receives public keys that are signed or AEAD-bound.
/// </summary>
public sealed class WycheproofX25519Tests
{
    private const int TestsInFile = 518;
    private const int Valid = 264;
    private const int AcceptableComputed = 223;
    private const int AcceptableAllZero = 31;

    [Fact]
    public void Agree_EveryWycheproofCase_MatchesItsResult()
    {
        using var file = WycheproofFile.Load("x25519_test.json");
        var failures = new List<string>();
        int valid = 0, computed = 0, refused = 0;

        foreach (var test in file.Cases())
        {
            var expected = test.Bytes("shared");
            var zero = test.HasFlag("ZeroSharedSecret");
            if (zero != Primitives.IsAllZero(expected))
            {
                failures.Add($"{test}: the ZeroSharedSecret flag and the expected value disagree");
                continue;
            }

            var outcome = TryAgree(test.Bytes("private"), test.Bytes("public"), out var shared);
            switch (test.Result, zero)
            {
                case ("valid", false):
                    valid++;
                    if (outcome is not null || !shared.AsSpan().SequenceEqual(expected))
                    {
                        failures.Add($"{test}: {outcome?.ToString() ?? "shared secret differs"}");
                    }

                    break;
                case ("acceptable", false):
                    computed++;
                    if (outcome is not null || !shared.AsSpan().SequenceEqual(expected))
                    {
                        failures.Add($"{test}: accepted case {outcome?.ToString() ?? "shared secret differs"}");
                    }

                    break;
                case ("acceptable", true):
                    refused++;
                    if (outcome != CryptoError.AllZeroSharedSecret)
                    {
                        failures.Add($"{test}: all-zero output not refused ({outcome?.ToString() ?? "accepted"})");
                    }

                    break;
                default:
                    failures.Add($"{test}: unexpected result kind");
                    break;
            }
        }

        Assert.Empty(failures);
        Assert.Equal(TestsInFile, file.NumberOfTests);
        Assert.Equal(Valid, valid);
        Assert.Equal(AcceptableComputed, computed);
        Assert.Equal(AcceptableAllZero, refused);
    }

    [Fact]
    public void Agree_WycheproofLowOrderPublicKeys_RefusedAsAllZero()
    {
        // RFC 7748 §6.1: a low-order peer key forces the all-zero output whatever the private key; the primitive
        // ChatWire uses must refuse it (contract: "Any all-zero DH output → refuse").
        using var file = WycheproofFile.Load("x25519_test.json");
        var lowOrder = file.Cases().Where(t => t.HasFlag("LowOrderPublic")).ToList();

        Assert.Equal(AcceptableAllZero, lowOrder.Count);
        Assert.All(lowOrder, test =>
        {
            var error = Assert.Throws<ChatWireCryptoException>(() => Primitives.Agree(test.Bytes("private"), test.Bytes("public"), new byte[32]));
            Assert.Equal(CryptoError.AllZeroSharedSecret, error.Error);
        });
    }

    private static CryptoError? TryAgree(byte[] privateKey, byte[] publicKey, out byte[] shared)
    {
        shared = new byte[32];
        try
        {
            Primitives.Agree(privateKey, publicKey, shared);
            return null;
        }
        catch (ChatWireCryptoException e)
        {
            return e.Error;
        }
    }
}
