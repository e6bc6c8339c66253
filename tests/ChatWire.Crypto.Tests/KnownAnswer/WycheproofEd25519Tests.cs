namespace ChatWire.Crypto.Tests.KnownAnswer;

/// <summary>
/// Wycheproof ed25519_test.json (151 tests in 78 groups, each group one public key) through
/// <see cref="Primitives.Verify"/>. Every test runs; none is skipped, and the file has no "acceptable" tests:
/// valid (88) must verify, invalid (63: malleable S ≥ L, non-canonical or truncated encodings, trailing garbage,
/// wrong lengths) must not. libsodium's strict verification is what makes the invalid ones fail.
/// </summary>
public sealed class WycheproofEd25519Tests
{
    private const int TestsInFile = 151;
    private const int Valid = 88;
    private const int Invalid = 63;

    [Fact]
    public void Verify_EveryWycheproofCase_MatchesItsResult()
    {
        using var file = WycheproofFile.Load("ed25519_test.json");
        var failures = new List<string>();
        int valid = 0, invalid = 0;

        foreach (var test in file.Cases())
        {
            var publicKey = Convert.FromHexString(test.Group.GetProperty("publicKey").GetProperty("pk").GetString()!);
            var verified = Primitives.Verify(publicKey, test.Bytes("msg"), test.Bytes("sig"));
            switch (test.Result)
            {
                case "valid":
                    valid++;
                    if (!verified)
                    {
                        failures.Add($"{test}: a valid signature was refused");
                    }

                    break;
                case "invalid":
                    invalid++;
                    if (verified)
                    {
                        failures.Add($"{test}: an invalid signature verified");
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
