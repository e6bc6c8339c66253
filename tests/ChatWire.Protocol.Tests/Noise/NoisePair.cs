using ChatWire.Protocol.Noise;

namespace ChatWire.Protocol.Tests.Noise;

// A client and a server handshake driven to completion in memory, for the handshake and record-layer tests.
internal static class NoisePair
{
    public static readonly byte[] Prologue = "ChatWire test prologue"u8.ToArray();

    public static (NoiseTransport Client, NoiseTransport Server) Connect(NoisePattern pattern = NoisePattern.XX, int maxRecordLength = NoiseTransport.MaxRecordLength)
    {
        using var clientStatic = NoiseKeyPair.Generate();
        using var serverStatic = NoiseKeyPair.Generate();
        using var client = HandshakeState.Create(pattern, true, Prologue, clientStatic, pattern == NoisePattern.IK ? serverStatic.PublicKey : default);
        using var server = HandshakeState.Create(pattern, false, Prologue, serverStatic);
        Run(client, server);
        var (clientSend, clientReceive) = client.Split();
        var (serverSend, serverReceive) = server.Split();
        return (new NoiseTransport(clientSend, clientReceive, maxRecordLength), new NoiseTransport(serverSend, serverReceive, maxRecordLength));
    }

    // Alternates WriteMessage/ReadMessage with empty payloads until both sides complete.
    public static void Run(HandshakeState initiator, HandshakeState responder)
    {
        var message = new byte[HandshakeState.MaxMessageLength];
        var payload = new byte[HandshakeState.MaxMessageLength];
        while (!initiator.IsCompleted)
        {
            var (sender, receiver) = initiator.IsMyTurnToWrite ? (initiator, responder) : (responder, initiator);
            var length = sender.WriteMessage([], message);
            receiver.ReadMessage(message.AsSpan(0, length), payload);
        }
    }
}
