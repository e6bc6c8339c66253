namespace ChatWire.Crypto;

/// <summary>
/// Every domain-separation label (docs/e2e.md "Primitives and labels"): ASCII, no terminator, one per key or signature
/// use, so that bytes made for one purpose can never be accepted for another.
/// </summary>
internal static class Labels
{
    public static ReadOnlySpan<byte> HistoryKey => "CW-hk-v1"u8;
    public static ReadOnlySpan<byte> DeviceCertificate => "CW-devcert-v1"u8;
    public static ReadOnlySpan<byte> LinkCode => "CW-link-v1"u8;
    public static ReadOnlySpan<byte> DeviceList => "CW-devlist-v1"u8;
    public static ReadOnlySpan<byte> SignedPrekey => "CW-spk-v1"u8;
    public static ReadOnlySpan<byte> X3dh => "ChatWire-X3DH-v1"u8;
    public static ReadOnlySpan<byte> X3dhAssociatedData => "CW"u8;
    public static ReadOnlySpan<byte> MessageKey => "CW-sk-msg-v1"u8;
    public static ReadOnlySpan<byte> ChainKey => "CW-sk-chain-v1"u8;
    public static ReadOnlySpan<byte> EpochSecretSender => "CW-sender"u8;
    public static ReadOnlySpan<byte> Seal => "CW-seal-v1"u8;
    public static ReadOnlySpan<byte> SeedSignature => "CW-seed-sig-v1"u8;
    public static ReadOnlySpan<byte> EnvelopeAssociatedData => "ChatWire/env/v1"u8;
    public static ReadOnlySpan<byte> EnvelopeSignature => "CW-sig-v1"u8;
    public static ReadOnlySpan<byte> Attachment => "CW-att-v1"u8;
    public static ReadOnlySpan<byte> Recovery => "CW-recovery-v2"u8;
    public static ReadOnlySpan<byte> RecoveryPublicKey => "CW-recovery-pk-v1"u8;
}
