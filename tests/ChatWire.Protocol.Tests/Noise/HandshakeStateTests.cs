using ChatWire.Protocol.Noise;

namespace ChatWire.Protocol.Tests.Noise;

public class HandshakeStateTests
{
    private static readonly byte[] Hello = "HELLO frame bytes"u8.ToArray();

    [Theory]
    [InlineData(NoisePattern.XX)]
    [InlineData(NoisePattern.IK)]
    public void Handshake_FreshKeys_BothSidesAgreeOnHashAndStaticKeys(NoisePattern pattern)
    {
        using var clientStatic = NoiseKeyPair.Generate();
        using var serverStatic = NoiseKeyPair.Generate();
        using var client = HandshakeState.Create(pattern, true, NoisePair.Prologue, clientStatic, pattern == NoisePattern.IK ? serverStatic.PublicKey : default);
        using var server = HandshakeState.Create(pattern, false, NoisePair.Prologue, serverStatic);

        NoisePair.Run(client, server);

        Assert.True(server.IsCompleted);
        Assert.Equal(client.GetHandshakeHash().ToArray(), server.GetHandshakeHash().ToArray());
        Assert.Equal(clientStatic.PublicKey.ToArray(), server.RemoteStaticPublicKey.ToArray());
        Assert.Equal(serverStatic.PublicKey.ToArray(), client.RemoteStaticPublicKey.ToArray());
    }

    [Fact]
    public void WriteMessage_IkFirstMessageWithHello_ServerReadsHelloEncrypted()
    {
        using var clientStatic = NoiseKeyPair.Generate();
        using var serverStatic = NoiseKeyPair.Generate();
        using var client = HandshakeState.Create(NoisePattern.IK, true, NoisePair.Prologue, clientStatic, serverStatic.PublicKey);
        using var server = HandshakeState.Create(NoisePattern.IK, false, NoisePair.Prologue, serverStatic);
        var message = new byte[client.GetWriteLength(Hello.Length)];
        var payload = new byte[Hello.Length];

        // e (32) + encrypted s (32 + 16) + encrypted payload (+ 16).
        Assert.Equal(32 + 48 + Hello.Length + 16, message.Length);
        client.WriteMessage(Hello, message);
        Assert.Equal(-1, message.AsSpan().IndexOf(Hello));

        Assert.Equal(Hello.Length, server.ReadMessage(message, payload));
        Assert.Equal(Hello, payload);
    }

    [Fact]
    public void ReadMessage_IkWithWrongServerKey_FailsAndHandshakeStaysFailed()
    {
        using var clientStatic = NoiseKeyPair.Generate();
        using var serverStatic = NoiseKeyPair.Generate();
        using var otherServer = NoiseKeyPair.Generate();
        using var client = HandshakeState.Create(NoisePattern.IK, true, NoisePair.Prologue, clientStatic, otherServer.PublicKey);
        using var server = HandshakeState.Create(NoisePattern.IK, false, NoisePair.Prologue, serverStatic);
        var message = new byte[client.GetWriteLength(Hello.Length)];
        client.WriteMessage(Hello, message);

        var error = Assert.Throws<NoiseException>(() => server.ReadMessage(message, new byte[Hello.Length]));

        Assert.Equal(NoiseError.DecryptionFailed, error.Error);
        Assert.Equal(NoiseError.InvalidState, Assert.Throws<NoiseException>(() => server.ReadMessage(message, new byte[Hello.Length])).Error);
    }

    [Fact]
    public void ReadMessage_PrologueMismatch_FailsAtFirstEncryptedMessage()
    {
        using var clientStatic = NoiseKeyPair.Generate();
        using var serverStatic = NoiseKeyPair.Generate();
        using var client = HandshakeState.Create(NoisePattern.XX, true, "v1"u8, clientStatic);
        using var server = HandshakeState.Create(NoisePattern.XX, false, "v2"u8, serverStatic);
        var message = new byte[256];
        var length = client.WriteMessage([], message);
        server.ReadMessage(message.AsSpan(0, length), new byte[256]);
        length = server.WriteMessage([], message);

        var error = Assert.Throws<NoiseException>(() => client.ReadMessage(message.AsSpan(0, length), new byte[256]));

        Assert.Equal(NoiseError.DecryptionFailed, error.Error);
    }

    [Fact]
    public void ReadMessage_FlippedBitInXxSecondMessage_Fails()
    {
        using var clientStatic = NoiseKeyPair.Generate();
        using var serverStatic = NoiseKeyPair.Generate();
        var message = new byte[256];
        for (var offset = 32; offset < 32 + 48 + 16; offset += 7)
        {
            using var client = HandshakeState.Create(NoisePattern.XX, true, NoisePair.Prologue, clientStatic);
            using var server = HandshakeState.Create(NoisePattern.XX, false, NoisePair.Prologue, serverStatic);
            var length = client.WriteMessage([], message);
            server.ReadMessage(message.AsSpan(0, length), new byte[256]);
            length = server.WriteMessage([], message);
            message[offset] ^= 0x01;

            Assert.Equal(NoiseError.DecryptionFailed, Assert.Throws<NoiseException>(() => client.ReadMessage(message.AsSpan(0, length), new byte[256])).Error);
        }
    }

    [Fact]
    public void ReadMessage_LowOrderEphemeral_RefusedAsInvalidPublicKey()
    {
        using var serverStatic = NoiseKeyPair.Generate();
        using var server = HandshakeState.Create(NoisePattern.IK, false, NoisePair.Prologue, serverStatic);

        // The all-zero point has order 1: any DH with it is zero, so "es" must refuse it.
        var error = Assert.Throws<NoiseException>(() => server.ReadMessage(new byte[32 + 48 + 16], new byte[64]));

        Assert.Equal(NoiseError.InvalidPublicKey, error.Error);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    [InlineData(32 + 47)]
    [InlineData(32 + 48 + 15)]
    public void ReadMessage_IkFirstMessageTooShort_RefusedAsMalformed(int length)
    {
        using var serverStatic = NoiseKeyPair.Generate();
        using var server = HandshakeState.Create(NoisePattern.IK, false, NoisePair.Prologue, serverStatic);
        var message = new byte[length];
        if (length >= 32)
        {
            // A valid ephemeral so that the message fails on its length, not on the DH.
            using var ephemeral = NoiseKeyPair.Generate();
            ephemeral.PublicKey.CopyTo(message);
        }

        var error = Assert.Throws<NoiseException>(() => server.ReadMessage(message, new byte[64]));

        Assert.Equal(NoiseError.MalformedHandshakeMessage, error.Error);
    }

    [Fact]
    public void ReadMessage_LongerThanNoiseMaximum_RefusedAsMalformed()
    {
        using var serverStatic = NoiseKeyPair.Generate();
        using var server = HandshakeState.Create(NoisePattern.XX, false, NoisePair.Prologue, serverStatic);

        var error = Assert.Throws<NoiseException>(() => server.ReadMessage(new byte[HandshakeState.MaxMessageLength + 1], new byte[HandshakeState.MaxMessageLength + 1]));

        Assert.Equal(NoiseError.MalformedHandshakeMessage, error.Error);
    }

    [Fact]
    public void WriteMessage_OutOfTurn_Throws()
    {
        using var serverStatic = NoiseKeyPair.Generate();
        using var server = HandshakeState.Create(NoisePattern.XX, false, NoisePair.Prologue, serverStatic);

        Assert.Throws<InvalidOperationException>(() => server.WriteMessage([], new byte[256]));
    }

    [Fact]
    public void Create_IkInitiatorWithoutServerKey_Throws()
    {
        using var clientStatic = NoiseKeyPair.Generate();

        Assert.Throws<ArgumentException>(() => HandshakeState.Create(NoisePattern.IK, true, NoisePair.Prologue, clientStatic));
    }

    [Fact]
    public void Split_BeforeCompletion_Throws()
    {
        using var clientStatic = NoiseKeyPair.Generate();
        using var client = HandshakeState.Create(NoisePattern.XX, true, NoisePair.Prologue, clientStatic);

        Assert.Throws<InvalidOperationException>(() => client.Split());
    }

    [Fact]
    public void FromPrivateKey_StoredKey_DerivesSamePublicKey()
    {
        using var generated = NoiseKeyPair.Generate();

        using var loaded = NoiseKeyPair.FromPrivateKey(generated.PrivateKey);

        Assert.Equal(generated.PublicKey.ToArray(), loaded.PublicKey.ToArray());
    }
}
