namespace ChatWire.Storage.Messages;

/// <summary>How many reactions a message takes (docs/protocol.md §3.1, "reactions"), the same in every adapter.</summary>
internal static class ReactionLimits
{
    /// <summary>Distinct emoji one message may gather.</summary>
    public const int MaxEmojiPerMessage = 50;

    /// <summary>Reactions one user may put on one message.</summary>
    public const int MaxReactionsPerUser = 20;
}
