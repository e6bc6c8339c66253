using System.Security.Cryptography;

namespace ChatWire.Protocol.Noise;

public sealed partial class HandshakeState
{
    /// <summary>The length of the next message this side writes with a payload of <paramref name="payloadLength"/> bytes.</summary>
    public int GetWriteLength(int payloadLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        ThrowIfNotTurn(write: true);
        return Overhead() + payloadLength;
    }

    // Bytes the current message has besides its payload: keys, and tags once a DH result has been mixed into the key.
    private int Overhead()
    {
        var hasKey = _symmetric.Cipher.HasKey;
        var length = 0;
        foreach (var token in _pattern.Messages[_messageIndex])
        {
            if (token == NoiseToken.E)
            {
                length += DhLength;
            }
            else if (token == NoiseToken.S)
            {
                length += DhLength + (hasKey ? CipherState.TagSize : 0);
            }
            else
            {
                // Every DH token calls MixKey, so everything after it is encrypted.
                hasKey = true;
            }
        }

        return length + (hasKey ? CipherState.TagSize : 0);
    }

    /// <summary>
    /// WriteMessage (§5.3): writes the next handshake message, carrying <paramref name="payload"/> (encrypted once the
    /// pattern has mixed a DH result into the key), into <paramref name="message"/>.
    /// </summary>
    /// <returns>The message length; at most <see cref="MaxMessageLength"/>.</returns>
    /// <exception cref="ArgumentException">The payload would make the message exceed 65,535 bytes, or the buffer is too small.</exception>
    /// <exception cref="InvalidOperationException">It is the peer's turn, or the handshake is complete or failed.</exception>
    public int WriteMessage(ReadOnlySpan<byte> payload, Span<byte> message)
    {
        var required = GetWriteLength(payload.Length);
        if (required > MaxMessageLength)
        {
            throw new ArgumentException($"The handshake message would be {required} bytes; a Noise message is at most {MaxMessageLength}.", nameof(payload));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(message.Length, required, nameof(message));
        try
        {
            var written = 0;
            foreach (var token in _pattern.Messages[_messageIndex])
            {
                switch (token)
                {
                    case NoiseToken.E:
                        if (!_hasEphemeral)
                        {
                            RandomNumberGenerator.Fill(_ephemeralPrivate);
                            X25519.PublicKey(_ephemeralPrivate, _ephemeralPublic);
                            _hasEphemeral = true;
                        }

                        ((ReadOnlySpan<byte>)_ephemeralPublic).CopyTo(message[written..]);
                        _symmetric.MixHash(_ephemeralPublic);
                        written += DhLength;
                        break;
                    case NoiseToken.S:
                        written += _symmetric.EncryptAndHash(_localStatic.PublicKey, message[written..]);
                        break;
                    default:
                        MixDh(token);
                        break;
                }
            }

            written += _symmetric.EncryptAndHash(payload, message[written..]);
            Advance();
            return written;
        }
        catch
        {
            _failed = true;
            throw;
        }
    }

    /// <summary>
    /// ReadMessage (§5.3): processes the peer's next handshake message and writes its payload into
    /// <paramref name="payload"/> (which must not overlap <paramref name="message"/>).
    /// </summary>
    /// <returns>The payload length.</returns>
    /// <exception cref="NoiseException">
    /// The message is malformed (<see cref="NoiseError.MalformedHandshakeMessage"/>), fails authentication
    /// (<see cref="NoiseError.DecryptionFailed"/>) or carries a low-order key (<see cref="NoiseError.InvalidPublicKey"/>).
    /// </exception>
    public int ReadMessage(ReadOnlySpan<byte> message, Span<byte> payload)
    {
        ThrowIfNotTurn(write: false);
        try
        {
            if (message.Length > MaxMessageLength)
            {
                throw Malformed($"A Noise message is at most {MaxMessageLength} bytes.");
            }

            // Checked before any DH or decryption, so a short message costs the server no curve operation.
            if (message.Length < Overhead())
            {
                throw Malformed($"The handshake message is shorter than the {Overhead()} bytes its pattern requires.");
            }

            var read = 0;
            foreach (var token in _pattern.Messages[_messageIndex])
            {
                switch (token)
                {
                    case NoiseToken.E:
                        if (message.Length - read < DhLength)
                        {
                            throw Malformed("The handshake message ends inside an ephemeral key.");
                        }

                        message.Slice(read, DhLength).CopyTo(_remoteEphemeral);
                        _hasRemoteEphemeral = true;
                        _symmetric.MixHash(_remoteEphemeral);
                        read += DhLength;
                        break;
                    case NoiseToken.S:
                        var length = DhLength + (_symmetric.Cipher.HasKey ? CipherState.TagSize : 0);
                        if (message.Length - read < length)
                        {
                            throw Malformed("The handshake message ends inside a static key.");
                        }

                        _symmetric.DecryptAndHash(message.Slice(read, length), _remoteStatic);
                        _hasRemoteStatic = true;
                        read += length;
                        break;
                    default:
                        MixDh(token);
                        break;
                }
            }

            var body = message[read..];
            if (_symmetric.Cipher.HasKey && body.Length < CipherState.TagSize)
            {
                throw Malformed("The handshake message ends inside its payload tag.");
            }

            var payloadLength = body.Length - (_symmetric.Cipher.HasKey ? CipherState.TagSize : 0);
            ArgumentOutOfRangeException.ThrowIfLessThan(payload.Length, payloadLength, nameof(payload));
            var written = _symmetric.DecryptAndHash(body, payload);
            Advance();
            return written;
        }
        catch
        {
            _failed = true;
            throw;
        }
    }

    private void MixDh(NoiseToken token)
    {
        // §7: "es" is DH(initiator's e, responder's s) on both sides, so the keys each side uses depend on its role.
        var (localEphemeral, remoteEphemeral) = token switch
        {
            NoiseToken.EE => (true, true),
            NoiseToken.ES => (_initiator, !_initiator),
            NoiseToken.SE => (!_initiator, _initiator),
            _ => (false, false),
        };

        if ((localEphemeral && !_hasEphemeral) || (remoteEphemeral ? !_hasRemoteEphemeral : !_hasRemoteStatic))
        {
            throw new NoiseException(NoiseError.InvalidState, "A DH token needs a key the handshake does not hold.");
        }

        Span<byte> shared = stackalloc byte[DhLength];
        ReadOnlySpan<byte> local = _localStatic.PrivateKey;
        if (localEphemeral)
        {
            local = _ephemeralPrivate;
        }

        ReadOnlySpan<byte> remote = _remoteStatic;
        if (remoteEphemeral)
        {
            remote = _remoteEphemeral;
        }

        X25519.Agree(local, remote, shared);
        _symmetric.MixKey(shared);
        CryptographicOperations.ZeroMemory(shared);
    }

    private void Advance()
    {
        _messageIndex++;
        if (IsCompleted)
        {
            _symmetric.HandshakeHash.CopyTo(_finalHash);
            CryptographicOperations.ZeroMemory(_ephemeralPrivate);
        }
    }

    private void ThrowIfNotTurn(bool write)
    {
        if (_failed)
        {
            throw new NoiseException(NoiseError.InvalidState, "The handshake failed earlier or was disposed.");
        }

        if (IsCompleted)
        {
            throw new InvalidOperationException("The handshake is complete.");
        }

        if (IsMyTurnToWrite != write)
        {
            throw new InvalidOperationException(write ? "It is the peer's turn to send a handshake message." : "It is this side's turn to send a handshake message.");
        }
    }

    private static NoiseException Malformed(string message) => new(NoiseError.MalformedHandshakeMessage, message);
}
