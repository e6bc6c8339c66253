namespace ChatWire.Peers;

/// <summary>Extracts message payloads from a server's byte stream that arrives in arbitrary pieces.</summary>
internal interface IMessageReader
{
    List<string> Feed(ReadOnlySpan<byte> data);
}
