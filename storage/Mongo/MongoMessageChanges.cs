using System.Text;
using ChatWire.Storage.Messages;
using MongoDB.Bson;
using MongoDB.Driver;

namespace ChatWire.Storage.Mongo;

/// <summary>
/// The change rules of the SQLite store's MessageChanges, inside a batch's transaction: an edit, deletion or
/// reaction is checked against the message it names and applied, and a message's thread and mentions are
/// recorded. Being in the transaction makes the rules race-free across processes: every stored change also
/// moves its conversation's head, so two writers changing one conversation conflict and one runs again
/// against the other's result (see <see cref="MongoAppendWriter"/>).
/// </summary>
internal sealed class MongoMessageChanges(IClientSessionHandle session, MongoCollections collections)
{
    private readonly record struct Target(long Seq, Guid SenderUserId, Guid? ThreadRootId, bool Deleted);

    private static AppendResult Stored { get; } = new(AppendOutcome.Stored, null);

    private static AppendResult Unchanged { get; } = new(AppendOutcome.Unchanged, null);

    /// <summary>
    /// Checks <paramref name="e"/> against the message it refers to and applies its change: Stored when the
    /// event is to be inserted, Unchanged or Refused (nothing to insert, no seq taken) otherwise. The events
    /// of the batch stored so far must be in the collection (the caller flushes them first).
    /// </summary>
    public AppendResult Apply(NewEvent e, DateTimeOffset now) => e.Kind switch
    {
        EventKind.Message when e.ThreadRootId is { } root => FindMessage(e.ConversationId, root) switch
        {
            null or { Deleted: true } => Refused(AppendRefusal.TargetNotFound),
            { ThreadRootId: not null } => Refused(AppendRefusal.RootIsReply),
            _ => Stored,
        },
        EventKind.MessageEdited => Edit(e, now),
        EventKind.MessageDeleted => Delete(e, now),
        EventKind.ReactionAdded => AddReaction(e, now),
        EventKind.ReactionRemoved => RemoveReaction(e),
        _ => Stored,
    };

    /// <summary>With a message's event queued for insertion: its thread's summary and participants, and its mentions.</summary>
    public void RecordMessage(NewEvent e, long seq, DateTimeOffset now)
    {
        var mentions = new List<WriteModel<BsonDocument>>();
        if (e.ThreadRootId is { } root)
        {
            // Participants are kept in the order they joined: the root's author with the root, others with
            // their first reply. Every participant but the sender is notified through a mention.
            var rootMessage = FindMessage(e.ConversationId, root)!.Value;
            collections.Threads.BulkWrite(session, [MongoCommands.AddReply(e.ConversationId, root, now)]);
            collections.ThreadParticipants.BulkWrite(
                session,
                [
                    MongoCommands.AddParticipant(e.ConversationId, root, rootMessage.SenderUserId, rootMessage.Seq),
                    MongoCommands.AddParticipant(e.ConversationId, root, e.SenderUserId, seq),
                ],
                MongoCommands.Unordered);
            foreach (var participant in collections.ThreadParticipants.Find(session, MongoCommands.ParticipantsOf(e.ConversationId, root)).ToList())
            {
                var user = MongoDocuments.ToGuid(participant[Fields.UserId]);
                if (user != e.SenderUserId)
                {
                    mentions.Add(MongoCommands.AddMention(e.ConversationId, user, seq, e.SenderUserId, now));
                }
            }
        }

        foreach (var user in e.Mentions.Distinct())
        {
            if (user != e.SenderUserId)
            {
                mentions.Add(MongoCommands.AddMention(e.ConversationId, user, seq, e.SenderUserId, now));
            }
        }

        if (e.GroupMentions != GroupMentions.None)
        {
            mentions.Add(MongoCommands.AddMention(e.ConversationId, Guid.Empty, seq, e.SenderUserId, now));
        }

        if (mentions.Count > 0)
        {
            // A participant may also be mentioned by name: the second upsert of one key changes nothing.
            collections.Mentions.BulkWrite(session, mentions, MongoCommands.Unordered);
        }
    }

    private static AppendResult Refused(AppendRefusal why) => new(AppendOutcome.Refused, null, why);

    private AppendResult Edit(NewEvent e, DateTimeOffset now)
    {
        if (FindMessage(e.ConversationId, e.SubjectId) is not { Deleted: false } target)
        {
            return Refused(AppendRefusal.TargetNotFound);
        }

        if (target.SenderUserId != e.SenderUserId)
        {
            return Refused(AppendRefusal.NotAuthor);
        }

        collections.Events.UpdateOne(session, MongoCommands.EventAt(e.ConversationId, target.Seq), MongoCommands.EditMessage(e.ContentType, e.Content, now));
        return Stored;
    }

    private AppendResult Delete(NewEvent e, DateTimeOffset now)
    {
        switch (FindMessage(e.ConversationId, e.SubjectId))
        {
            case null:
                return Refused(AppendRefusal.TargetNotFound);
            case { Deleted: true }:
                return Unchanged;
            case { } target when target.SenderUserId != e.SenderUserId && !e.ActorModerates:
                return Refused(AppendRefusal.NotAuthor);
            case { } target:
                // The content goes, from the message and from every edit of it; so do its mentions and
                // reactions. The seq stays, as a tombstone.
                var message = e.SubjectId!.Value;
                collections.Events.UpdateOne(session, MongoCommands.EventAt(e.ConversationId, target.Seq), MongoCommands.DeleteMessage(now));
                collections.Events.UpdateMany(session, MongoCommands.EditsOf(e.ConversationId, message), MongoCommands.EraseEdit(now));
                collections.Mentions.DeleteMany(session, MongoCommands.MentionsAt(e.ConversationId, target.Seq));
                collections.Reactions.DeleteMany(session, MongoCommands.ReactionsOf(e.ConversationId, message));
                return Stored;
        }
    }

    private AppendResult AddReaction(NewEvent e, DateTimeOffset now)
    {
        if (FindMessage(e.ConversationId, e.SubjectId) is not { Deleted: false })
        {
            return Refused(AppendRefusal.TargetNotFound);
        }

        var message = e.SubjectId!.Value;
        var emoji = Encoding.UTF8.GetString(e.Content.Span);
        var emojiCount = 0;
        var userCount = 0;
        var emojiExists = false;
        foreach (var group in collections.Reactions.Aggregate(session, MongoCommands.ReactionEmojiByUser(e.ConversationId, message, e.SenderUserId)).ToList())
        {
            var byUser = group["byUser"].ToInt32();
            if (string.Equals(group["_id"].AsString, emoji, StringComparison.Ordinal))
            {
                if (byUser > 0)
                {
                    return Unchanged;
                }

                emojiExists = true;
            }

            emojiCount++;
            userCount += byUser;
        }

        if ((!emojiExists && emojiCount >= MessageRules.MaxEmojiPerMessage) || userCount >= MessageRules.MaxReactionsPerUser)
        {
            return Refused(AppendRefusal.TooManyReactions);
        }

        collections.Reactions.InsertOne(session, MongoCommands.ReactionDocument(e.ConversationId, message, emoji, e.SenderUserId, now));
        return Stored;
    }

    private AppendResult RemoveReaction(NewEvent e)
    {
        var removed = collections.Reactions.DeleteOne(session, MongoCommands.Reaction(e.ConversationId, e.SubjectId!.Value, Encoding.UTF8.GetString(e.Content.Span), e.SenderUserId));
        if (removed.DeletedCount != 0)
        {
            return Stored;
        }

        // A reaction removed proves its message is there (a deletion takes its reactions); nothing removed is
        // NOT_FOUND unless the message is there, not deleted.
        return FindMessage(e.ConversationId, e.SubjectId) is { Deleted: false } ? Unchanged : Refused(AppendRefusal.TargetNotFound);
    }

    // The message (kind 0) with this id in the conversation; null when there is none.
    private Target? FindMessage(Guid conversationId, Guid? messageId)
    {
        if (messageId is not { } id)
        {
            return null;
        }

        var found = collections.Events.Find(session, MongoCommands.FindEvent(conversationId, id)).Project(MongoCommands.TargetProjection).FirstOrDefault();
        if (found is null || (EventKind)found[EventFields.Kind].ToInt32() != EventKind.Message)
        {
            return null;
        }

        return new Target(
            found[EventFields.Seq].ToInt64(),
            MongoDocuments.ToGuid(found[EventFields.SenderUserId]),
            MongoDocuments.OptionalGuid(found, EventFields.ThreadRootId),
            found.Contains(EventFields.DeletedAt));
    }
}
