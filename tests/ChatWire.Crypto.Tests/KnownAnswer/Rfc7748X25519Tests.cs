namespace ChatWire.Crypto.Tests.KnownAnswer;

/// <summary>RFC 7748 (Elliptic Curves for Security) X25519 test vectors, typed in from the RFC, through <see cref="Primitives"/>.</summary>
public sealed class Rfc7748X25519Tests
{
    // RFC 7748 §5.2: the base point u = 9, also the starting scalar of the iterated test.
    private const string BasePoint = "0900000000000000000000000000000000000000000000000000000000000000";

    [Theory]
    // RFC 7748 §5.2, first vector.
    [InlineData(
        "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
        "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")]
    // RFC 7748 §5.2, second vector: the input u has its top bit set (0x93), which X25519 must mask (§5).
    [InlineData(
        "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
        "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
        "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957")]
    public void Agree_Rfc7748Section52Vector_MatchesOutput(string scalar, string u, string output)
    {
        var shared = new byte[32];

        Primitives.Agree(Convert.FromHexString(scalar), Convert.FromHexString(u), shared);

        Assert.Equal(output, Convert.ToHexString(shared), ignoreCase: true);
    }

    [Fact]
    public void Agree_Rfc7748Section52Iterated_MatchesAfter1And1000()
    {
        // RFC 7748 §5.2: k = u = 9; each round sets (k, u) = (X25519(k, u), k). The 1,000,000-round value is not
        // checked: it takes minutes and proves nothing the 1,000-round one does not.
        var k = Convert.FromHexString(BasePoint);
        var u = Convert.FromHexString(BasePoint);
        string? afterOne = null;

        for (var round = 1; round <= 1000; round++)
        {
            var next = new byte[32];
            Primitives.Agree(k, u, next);
            u = k;
            k = next;
            if (round == 1)
            {
                afterOne = Convert.ToHexString(k);
            }
        }

        Assert.Equal("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079", afterOne, ignoreCase: true);
        Assert.Equal("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51", Convert.ToHexString(k), ignoreCase: true);
    }

    [Fact]
    public void Agree_Rfc7748Section61AliceAndBob_SameSharedSecret()
    {
        // RFC 7748 §6.1 (Curve25519 Diffie-Hellman).
        var alicePrivate = Convert.FromHexString("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        var bobPrivate = Convert.FromHexString("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        const string AlicePublic = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
        const string BobPublic = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
        const string Shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
        var aliceShared = new byte[32];
        var bobShared = new byte[32];

        Primitives.Agree(alicePrivate, Convert.FromHexString(BobPublic), aliceShared);
        Primitives.Agree(bobPrivate, Convert.FromHexString(AlicePublic), bobShared);

        Assert.Equal(AlicePublic, Convert.ToHexString(Primitives.X25519PublicKey(alicePrivate)), ignoreCase: true);
        Assert.Equal(BobPublic, Convert.ToHexString(Primitives.X25519PublicKey(bobPrivate)), ignoreCase: true);
        Assert.Equal(Shared, Convert.ToHexString(aliceShared), ignoreCase: true);
        Assert.Equal(Shared, Convert.ToHexString(bobShared), ignoreCase: true);
    }
}
