using System.Runtime.InteropServices;

namespace ChatWire.Protocol.Noise;

// The libsodium that the NSec.Cryptography package ships, called directly: per-connection Noise state is raw key bytes
// in managed memory, so no NSec Key (a guarded sodium_malloc allocation) and no BCL AesGcm (a native cipher context)
// exists per connection. Every function here is thread-safe once sodium_init has run.
internal static unsafe partial class Libsodium
{
    private const string Library = "libsodium";

    public const int ScalarBytes = 32;
    public const int AesGcmKeyBytes = 32;
    public const int AesGcmNonceBytes = 12;
    public const int AesGcmTagBytes = 16;

    private static volatile bool _ready;

    // Called before any primitive. Throws PlatformNotSupportedException (not a TypeInitializationException) so the
    // reason reaches the operator's log as written.
    public static void EnsureInitialized()
    {
        if (!_ready)
        {
            Initialize();
        }
    }

    private static void Initialize()
    {
        // sodium_init returns 0 on first success, 1 when already initialized (NSec may have done it), -1 on failure;
        // it is safe to call from several threads at once.
        if (sodium_init() < 0)
        {
            throw new PlatformNotSupportedException("libsodium failed to initialize (sodium_init returned -1).");
        }

        // libsodium implements AES-256-GCM only with the AES-NI and PCLMUL instructions (or ARM crypto extensions);
        // there is no software fallback, so a host without them cannot speak Noise_*_AESGCM_* through it.
        if (crypto_aead_aes256gcm_is_available() == 0)
        {
            throw new PlatformNotSupportedException(
                "The Noise transport needs hardware AES (AES-NI and PCLMULQDQ, or ARMv8 crypto extensions); " +
                "libsodium reports AES-256-GCM as unavailable on this CPU.");
        }

        _ready = true;
    }

    [LibraryImport(Library)]
    private static partial int sodium_init();

    [LibraryImport(Library)]
    private static partial int crypto_aead_aes256gcm_is_available();

    [LibraryImport(Library)]
    public static partial int crypto_scalarmult(byte* q, byte* n, byte* p);

    [LibraryImport(Library)]
    public static partial int crypto_scalarmult_base(byte* q, byte* n);

    [LibraryImport(Library)]
    public static partial int crypto_aead_aes256gcm_encrypt(
        byte* c, ulong* clen, byte* m, ulong mlen, byte* ad, ulong adlen, byte* nsec, byte* npub, byte* k);

    [LibraryImport(Library)]
    public static partial int crypto_aead_aes256gcm_decrypt(
        byte* m, ulong* mlen, byte* nsec, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* k);
}
