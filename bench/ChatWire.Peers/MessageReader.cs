namespace ChatWire.Peers;

/// <summary>
/// Extracts message payloads from a server's byte stream that arrives in arbitrary pieces: keeps what a piece
/// leaves incomplete and hands the parser everything buffered.
/// </summary>
internal abstract class MessageReader
{
    private readonly List<byte> _pending = [];

    public List<string> Feed(ReadOnlySpan<byte> data)
    {
        _pending.AddRange(data);
        var payloads = new List<string>();
        var consumed = Parse(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending), payloads);
        _pending.RemoveRange(0, consumed);
        return payloads;
    }

    /// <summary>Adds the payloads of the whole messages at the start of <paramref name="span"/>; returns the bytes they took.</summary>
    protected abstract int Parse(ReadOnlySpan<byte> span, List<string> payloads);
}
