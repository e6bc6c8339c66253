namespace ChatWire.Protocol;

/// <summary>Content types the protocol names (docs/protocol.md §3.1, §4.8).</summary>
public static class ContentTypes
{
    /// <summary>An end-to-end encrypted envelope: the server stores and routes it and never parses it.</summary>
    public const string EndToEnd = "application/vnd.chatwire.e2e";

    /// <summary>Plain text.</summary>
    public const string PlainText = "text/plain";
}
