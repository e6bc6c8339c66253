namespace ChatWire.Crypto.Tests.ChatWireVectors;

/// <summary>
/// The people and devices of the vectors. Alice (phone, laptop, tablet; device lists v2 = phone, v3 = phone + laptop,
/// the tablet approved by her account key but on no list) sends; Bob (phone, with signed prekey 7 and one-time
/// prekey 42; history key generation 2) receives.
/// </summary>
internal static class Actors
{
    public const uint SignedPrekeyId = 7;
    public const uint OneTimePrekeyId = 42;

    public static readonly UserActor AliceUser = MakeAlice();
    public static readonly UserActor BobUser = MakeBob();

    public static DeviceActor AlicePhone => AliceUser.Devices[0];

    public static DeviceActor BobPhone => BobUser.Devices[0];

    /// <summary>Alice's phone's sender chain in the conversation: CK_0 and the chain signing key SigK.</summary>
    public static byte[] ChainKey0 => Fixed.Secret("chain/ck0");

    public static byte[] ChainSigningPrivate => Fixed.Secret("chain/sigk");

    public static byte[] ChainSigningPublic => Spec.Ed25519Public(ChainSigningPrivate);

    /// <summary>The seed of that chain from iteration 0 (what is sealed to every member).</summary>
    public static byte[] Seed => Spec.SeedPayload(
        Fixed.Conversation, Fixed.Epoch, AliceUser.UserId, AlicePhone.DeviceId, Fixed.ChainId, 0, ChainKey0, ChainSigningPublic);

    private static UserActor MakeAlice()
    {
        var ask = Fixed.Secret("alice/ask");
        var phone = DeviceActor.Make("phone", Fixed.Alice, Fixed.AlicePhone, "alice/phone", ask, withPrekeys: false);
        var laptop = DeviceActor.Make("laptop", Fixed.Alice, Fixed.AliceLaptop, "alice/laptop", ask, withPrekeys: false);
        var tablet = DeviceActor.Make("tablet", Fixed.Alice, Fixed.AliceTablet, "alice/tablet", ask, withPrekeys: false);
        return new UserActor("alice", Fixed.Alice, ask, 1, Fixed.Secret("alice/hk/1"), [phone, laptop, tablet], [(2, [phone]), (3, [phone, laptop])]);
    }

    private static UserActor MakeBob()
    {
        var ask = Fixed.Secret("bob/ask");
        var phone = DeviceActor.Make("phone", Fixed.Bob, Fixed.BobPhone, "bob/phone", ask, withPrekeys: true);
        return new UserActor("bob", Fixed.Bob, ask, 2, Fixed.Secret("bob/hk/2"), [phone], [(1, [phone])]);
    }
}

internal sealed record UserActor(
    string Name,
    Guid UserId,
    byte[] AccountPrivate,
    uint HistoryGeneration,
    byte[] HistoryPrivate,
    IReadOnlyList<DeviceActor> Devices,
    IReadOnlyList<(ulong Version, DeviceActor[] Listed)> DeviceLists)
{
    public byte[] AccountPublic => Spec.Ed25519Public(AccountPrivate);

    public byte[] HistoryPublic => Spec.X25519Public(HistoryPrivate);
}

internal sealed record DeviceActor(
    string Name,
    Guid UserId,
    Guid DeviceId,
    byte[] SigningPrivate,
    byte[] DhPrivate,
    byte[] CertificateBody,
    byte[] SelfSignature,
    byte[] AccountSignature,
    byte[]? SignedPrekeyPrivate,
    byte[]? OneTimePrekeyPrivate)
{
    public byte[] SigningPublic => Spec.Ed25519Public(SigningPrivate);

    public byte[] DhPublic => Spec.X25519Public(DhPrivate);

    public byte[] CertificateHash => Spec.CertificateHash(CertificateBody, AccountSignature);

    public string LinkCode => Spec.LinkCode(UserId, DeviceId, SigningPublic, DhPublic);

    public byte[] SignedPrekeyPublic => Spec.X25519Public(SignedPrekeyPrivate!);

    public byte[] OneTimePrekeyPublic => Spec.X25519Public(OneTimePrekeyPrivate!);

    public static DeviceActor Make(string name, Guid user, Guid device, string secretName, byte[] accountPrivate, bool withPrekeys)
    {
        var signing = Fixed.Secret(secretName + "/dsk");
        var dh = Fixed.Secret(secretName + "/ddk");
        var body = Spec.CertificateBody(user, device, Spec.Ed25519Public(signing), Spec.X25519Public(dh), Fixed.CreatedAtMs, 1);
        return new DeviceActor(
            name,
            user,
            device,
            signing,
            dh,
            body,
            Spec.Sign(signing, body),
            Spec.Sign(accountPrivate, body),
            withPrekeys ? Fixed.Secret($"{secretName}/spk/{Actors.SignedPrekeyId}") : null,
            withPrekeys ? Fixed.Secret($"{secretName}/opk/{Actors.OneTimePrekeyId}") : null);
    }
}
