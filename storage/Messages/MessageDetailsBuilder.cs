namespace ChatWire.Storage.Messages;

/// <summary>
/// Shapes the rows an adapter read for <see cref="IMessageStore.GetMessageDetailsAsync"/> (thread summaries,
/// thread participants, reaction counts, each in the order the store keeps them) into one
/// <see cref="MessageDetails"/> per message that has a thread or a reaction.
/// </summary>
internal sealed class MessageDetailsBuilder
{
    private readonly Dictionary<Guid, (int Count, DateTimeOffset Last)> _threads = [];
    private readonly Dictionary<Guid, List<Guid>> _participants = [];
    private readonly Dictionary<Guid, List<ReactionCount>> _reactions = [];

    public void AddThread(Guid rootId, int replyCount, DateTimeOffset lastReplyAt) => _threads[rootId] = (replyCount, lastReplyAt);

    public void AddParticipant(Guid rootId, Guid userId) => ListFor(_participants, rootId).Add(userId);

    public void AddReaction(Guid messageId, ReactionCount reaction) => ListFor(_reactions, messageId).Add(reaction);

    public Dictionary<Guid, MessageDetails> Build()
    {
        var details = new Dictionary<Guid, MessageDetails>();
        foreach (var id in _threads.Keys.Union(_reactions.Keys))
        {
            var thread = _threads.GetValueOrDefault(id);
            details[id] = new MessageDetails(
                thread.Count,
                thread.Count > 0 ? thread.Last : null,
                _participants.GetValueOrDefault(id) ?? [],
                _reactions.GetValueOrDefault(id) ?? []);
        }

        return details;
    }

    private static List<T> ListFor<T>(Dictionary<Guid, List<T>> lists, Guid id)
    {
        if (!lists.TryGetValue(id, out var list))
        {
            lists[id] = list = [];
        }

        return list;
    }
}
