namespace ChatWire.Protocol.Noise;

/// <summary>
/// A Noise handshake or transport failure. Unlike <see cref="ProtocolException"/> it is never answered with an ERROR
/// frame: a listener that catches it closes the connection (see <see cref="NoiseError"/>). The message never contains
/// key material or decrypted bytes.
/// </summary>
public sealed class NoiseException : Exception
{
    /// <summary>Creates an exception for <paramref name="error"/>.</summary>
    public NoiseException(NoiseError error, string message)
        : base(message)
    {
        Error = error;
    }

    /// <summary>What went wrong.</summary>
    public NoiseError Error { get; }
}
