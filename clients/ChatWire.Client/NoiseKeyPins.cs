using System.Collections.Concurrent;

namespace ChatWire.Client;

/// <summary>
/// Where a client keeps the Noise server keys it trusts, one per <c>host:port</c>: read before each Noise connection,
/// written when a server is first met (trust on first use) and when a server moves to a rotated key it announced in
/// a handshake authenticated by the pinned one. A CLI keeps them in its profile, an app in its settings.
/// </summary>
public interface INoiseKeyPins
{
    /// <summary>The pinned 32-byte static public key of the Noise listener at <paramref name="host"/>:<paramref name="port"/>, or <see langword="null"/>.</summary>
    /// <param name="host">The host as given in the connection options.</param>
    /// <param name="port">The Noise port.</param>
    byte[]? Find(string host, int port);

    /// <summary>Pins <paramref name="key"/> for <paramref name="host"/>:<paramref name="port"/>, replacing any earlier pin.</summary>
    /// <param name="host">The host as given in the connection options.</param>
    /// <param name="port">The Noise port.</param>
    /// <param name="key">The server's 32-byte static public key.</param>
    void Save(string host, int port, ReadOnlySpan<byte> key);
}

/// <summary>
/// Pins held in memory: what a connection uses when it is given no store, so its reconnects insist on the key its
/// first link met. Thread-safe.
/// </summary>
public sealed class InMemoryNoiseKeyPins : INoiseKeyPins
{
    private readonly ConcurrentDictionary<string, byte[]> _pins = new(StringComparer.OrdinalIgnoreCase);

    /// <inheritdoc/>
    public byte[]? Find(string host, int port) => _pins.TryGetValue(NoiseKeys.PinName(host, port), out var key) ? (byte[])key.Clone() : null;

    /// <inheritdoc/>
    public void Save(string host, int port, ReadOnlySpan<byte> key) => _pins[NoiseKeys.PinName(host, port)] = key.ToArray();
}

/// <summary>Noise server keys as people see them: 64 lowercase hex digits, as in server-info and the server's log.</summary>
public static class NoiseKeys
{
    /// <summary>The length of a Curve25519 public key.</summary>
    public const int KeyLength = 32;

    /// <summary>
    /// Reads a key written as 64 hex digits (colons, spaces and dashes between them allowed, any case).
    /// </summary>
    /// <param name="hex">The key in hex.</param>
    /// <exception cref="ArgumentException">Not 32 bytes of hex.</exception>
    public static byte[] Parse(string hex)
    {
        ArgumentNullException.ThrowIfNull(hex);
        return Internal.PinnedHex.Parse(hex, KeyLength, "A Noise server key", nameof(hex));
    }

    /// <summary>The key as 64 lowercase hex digits: the form server-info and the server's log show, and the one to compare.</summary>
    /// <param name="key">A 32-byte key.</param>
    public static string ToHex(ReadOnlySpan<byte> key) => Convert.ToHexStringLower(key);

    /// <summary>The name a pin is kept under: <c>host:port</c>, an IPv6 address in brackets.</summary>
    /// <param name="host">The host.</param>
    /// <param name="port">The port.</param>
    public static string PinName(string host, int port) =>
        (host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]" : host) + ":" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
