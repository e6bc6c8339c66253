namespace ChatWire.Crypto.Tests.KnownAnswer;

/// <summary>
/// Wycheproof aes_gcm_test.json (316 tests in 45 groups) through <see cref="Primitives.Seal"/> and <see cref="Primitives.Open"/>.
/// ChatWire uses AES-256-GCM with a 96-bit nonce and a 128-bit tag only, which is also all NSec's Aes256Gcm accepts.
/// The 66 tests of the one group with those parameters (keySize 256, ivSize 96, tagSize 128) run for their result:
/// valid → encryption gives exactly ct||tag and decryption gives msg back; invalid (all flagged ModifiedTag) → decryption
/// refuses. The file has no "acceptable" AES-GCM tests.
/// Skipped for their result, because the primitive does not take their parameters (44 groups, 250 tests):
/// 128- and 192-bit keys (30 groups, 211 tests) and 256-bit keys with a nonce other than 96 bits (14 groups: 0, 8, 16,
/// 32, 48, 64, 80, 120, 128, 160, 256, 512, 1024, 2056 bits; 39 tests). Each of those is checked to be refused (an
/// exception from Seal, no plaintext from Open), so an unsupported size can never be used by mistake.
/// </summary>
public sealed class WycheproofAesGcmTests
{
    private const int TestsInFile = 316;
    private const int SupportedValid = 39;
    private const int SupportedInvalid = 27;
    private const int UnsupportedParameters = 250;

    [Fact]
    public void SealAndOpen_EveryWycheproofCaseWithChatWireParameters_MatchesItsResult()
    {
        using var file = WycheproofFile.Load("aes_gcm_test.json");
        var failures = new List<string>();
        int valid = 0, invalid = 0, unsupported = 0;

        foreach (var test in file.Cases())
        {
            var key = test.Bytes("key");
            var nonce = test.Bytes("iv");
            var aad = test.Bytes("aad");
            var message = test.Bytes("msg");
            byte[] expected = [.. test.Bytes("ct"), .. test.Bytes("tag")];

            if (test.GroupInt("keySize") != 256 || test.GroupInt("ivSize") != 96 || test.GroupInt("tagSize") != 128)
            {
                unsupported++;
                if (!IsRefused(key, nonce, aad, message, expected))
                {
                    failures.Add($"{test}: unsupported parameters were not refused");
                }

                continue;
            }

            var opened = Primitives.Open(key, nonce, aad, expected);
            switch (test.Result)
            {
                case "valid":
                    valid++;
                    if (!Primitives.Seal(key, nonce, aad, message).AsSpan().SequenceEqual(expected))
                    {
                        failures.Add($"{test}: encryption differs");
                    }

                    if (opened is null || !opened.AsSpan().SequenceEqual(message))
                    {
                        failures.Add($"{test}: decryption refused or differs");
                    }

                    break;
                case "invalid":
                    invalid++;
                    if (opened is not null)
                    {
                        failures.Add($"{test}: decryption accepted an invalid case");
                    }

                    break;
                default:
                    failures.Add($"{test}: unexpected result kind");
                    break;
            }
        }

        Assert.Empty(failures);
        Assert.Equal(TestsInFile, file.NumberOfTests);
        Assert.Equal(SupportedValid, valid);
        Assert.Equal(SupportedInvalid, invalid);
        Assert.Equal(UnsupportedParameters, unsupported);
        Assert.Equal(TestsInFile, valid + invalid + unsupported);
    }

    private static bool IsRefused(byte[] key, byte[] nonce, byte[] aad, byte[] message, byte[] ciphertext)
    {
        try
        {
            Primitives.Seal(key, nonce, aad, message);
            return false;
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            // NSec: a key that is not 32 bytes is a FormatException, a nonce that is not 12 bytes an ArgumentException.
        }

        try
        {
            return Primitives.Open(key, nonce, aad, ciphertext) is null;
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            return true;
        }
    }
}
