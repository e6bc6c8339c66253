using System.Security.Authentication;

namespace ChatWire.Client;

/// <summary>
/// The Noise server proved a static key other than the one this client trusts for it: either the server was
/// reinstalled or its key replaced without a rotation, or something between the client and the server is posing as
/// it. The connection is refused before AUTH (the session token never reaches that server) and is not retried.
/// </summary>
/// <remarks>
/// A key rotated with <c>--rotate-noise-key</c> does not end here while the previous key is still accepted: the
/// handshake under the old key announces the new one, and the client moves its pin. To accept a changed key after
/// checking it out of band (the server's log or server-info over HTTPS), connect once with
/// <see cref="ChatWireConnectionOptions.AcceptChangedNoiseKey"/> (trust on first use only), or give the new key as
/// <see cref="ChatWireConnectionOptions.NoiseServerKey"/>.
/// </remarks>
public sealed class NoiseServerKeyChangedException : AuthenticationException
{
    /// <summary>Creates the exception for a server at <paramref name="host"/>:<paramref name="port"/>.</summary>
    /// <param name="host">The host connected to.</param>
    /// <param name="port">The Noise port.</param>
    /// <param name="trustedKey">The key the client trusts (pinned on first use, or given explicitly).</param>
    /// <param name="presentedKey">The key the server proved it holds.</param>
    /// <param name="explicitPin">Whether <paramref name="trustedKey"/> was given explicitly rather than pinned on first use.</param>
    public NoiseServerKeyChangedException(string host, int port, ReadOnlySpan<byte> trustedKey, ReadOnlySpan<byte> presentedKey, bool explicitPin)
        : base(Describe(host, port, NoiseKeys.ToHex(trustedKey), NoiseKeys.ToHex(presentedKey), explicitPin))
    {
        Host = host;
        Port = port;
        TrustedKey = NoiseKeys.ToHex(trustedKey);
        PresentedKey = NoiseKeys.ToHex(presentedKey);
        IsExplicitPin = explicitPin;
    }

    /// <summary>The host connected to.</summary>
    public string Host { get; }

    /// <summary>The Noise port.</summary>
    public int Port { get; }

    /// <summary>The key the client trusts, in hex.</summary>
    public string TrustedKey { get; }

    /// <summary>The key the server proved it holds, in hex.</summary>
    public string PresentedKey { get; }

    /// <summary>Whether the trusted key was given explicitly (<see cref="ChatWireConnectionOptions.NoiseServerKey"/>) rather than pinned on first use.</summary>
    public bool IsExplicitPin { get; }

    private static string Describe(string host, int port, string trusted, string presented, bool explicitPin) =>
        $"The Noise server at {NoiseKeys.PinName(host, port)} proved the key {presented}, "
        + (explicitPin ? $"not the key it was pinned to explicitly ({trusted}). " : $"not the key pinned when it was first used ({trusted}). ")
        + "Refusing to connect: the server's key was replaced, or someone is posing as the server.";
}
