namespace ChatWire.Client;

/// <summary>How a <see cref="ChatWireConnection"/> carries its frames (docs/protocol.md §1 and §8).</summary>
public enum ChatWireTransport
{
    /// <summary>Plain TCP (port 7400 by default): nothing is encrypted; off loopback only with <see cref="ChatWireConnectionOptions.AllowPlaintext"/>.</summary>
    Tcp,

    /// <summary>TLS 1.2 or 1.3 (port 7443 by default), the server authenticated by its certificate.</summary>
    Tls,

    /// <summary>
    /// Noise (port 7401 by default), the server authenticated by its static key: pinned on first use, given
    /// explicitly (<see cref="ChatWireConnectionOptions.NoiseServerKey"/>), or taken from server-info fetched over HTTPS.
    /// </summary>
    Noise,
}
