namespace ChatWire.Crypto.Tests.KnownAnswer;

/// <summary>
/// Wycheproof hkdf_sha256_test.json (86 tests in 5 groups by IKM size) through <see cref="Primitives.Hkdf"/>. Every
/// test runs; none is skipped. valid (83, incl. empty salt and the maximal 255 × 32 = 8160-byte output) must give
/// exactly "okm"; invalid (3, all SizeTooLarge: 8161 bytes) must be refused with an ArgumentException, not truncated.
/// </summary>
public sealed class WycheproofHkdfTests
{
    private const int TestsInFile = 86;
    private const int Valid = 83;
    private const int Invalid = 3;

    [Fact]
    public void Hkdf_EveryWycheproofCase_MatchesItsResult()
    {
        using var file = WycheproofFile.Load("hkdf_sha256_test.json");
        var failures = new List<string>();
        int valid = 0, invalid = 0;

        foreach (var test in file.Cases())
        {
            var output = new byte[test.Int("size")];
            bool refused;
            try
            {
                Primitives.Hkdf(test.Bytes("salt"), test.Bytes("ikm"), test.Bytes("info"), output);
                refused = false;
            }
            catch (ArgumentException)
            {
                refused = true;
            }

            switch (test.Result)
            {
                case "valid":
                    valid++;
                    if (refused || !output.AsSpan().SequenceEqual(test.Bytes("okm")))
                    {
                        failures.Add($"{test}: {(refused ? "refused" : "output differs")}");
                    }

                    break;
                case "invalid":
                    invalid++;
                    if (!refused)
                    {
                        failures.Add($"{test}: an invalid size was accepted");
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
        Assert.Equal(Invalid, invalid);
    }
}
