namespace ChatWire.Client.Internal;

// Which Noise server key a connection trusts, for its first link and every reconnect: the explicit key from the
// options (moved in memory when the server announces a rotation), else the pin store's key for the endpoint (the
// caller's store, or one in memory so that reconnects insist on the key the first link met).
internal sealed class NoiseTrust
{
    private readonly INoiseKeyPins _pins;
    private readonly Lock _lock = new();
    private byte[]? _explicit;

    public NoiseTrust(ChatWireConnectionOptions options)
    {
        _pins = options.NoiseKeyPins ?? new InMemoryNoiseKeyPins();
        if (options.NoiseServerKey is { } key)
        {
            _explicit = key.Length == NoiseKeys.KeyLength
                ? key.ToArray()
                : throw new ArgumentException($"NoiseServerKey must be {NoiseKeys.KeyLength} bytes; got {key.Length}.", nameof(options));
        }
    }

    // The key to run IK with, and whether it was given explicitly; (null, false) when the endpoint was never met.
    public (byte[]? Key, bool Explicit) Expected(string host, int port)
    {
        lock (_lock)
        {
            return _explicit is { } key ? ((byte[])key.Clone(), true) : (_pins.Find(host, port), false);
        }
    }

    // First use, an accepted change, or a rotation the server announced under the trusted key.
    public void Trust(string host, int port, ReadOnlySpan<byte> key)
    {
        lock (_lock)
        {
            if (_explicit is not null)
            {
                _explicit = key.ToArray();
            }

            _pins.Save(host, port, key);
        }
    }
}
