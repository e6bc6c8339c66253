using ChatWire.Storage.Messages;
using Microsoft.Data.Sqlite;

namespace ChatWire.Storage.Sqlite;

/// <summary>
/// What the group-commit writer does besides inserting an event row, inside the batch's transaction: it
/// checks and applies an edit, deletion or reaction to the message it names, and records a message's
/// thread and mentions. Checking here rather than in the caller makes the rules race-free: two deletions of
/// one message, or a reaction to a message being deleted, are decided in commit order.
/// </summary>
internal sealed class MessageChanges(SqliteConnection connection, Func<SqliteTransaction?> transaction)
{
    private static readonly byte[] Everyone = new byte[SqliteValues.GuidLength];

    private readonly record struct Target(long Seq, Guid SenderUserId, Guid? ThreadRootId, bool Deleted);

    /// <summary>
    /// Checks <paramref name="e"/> against the message it refers to and applies its change: Stored when the
    /// event is to be inserted, Unchanged or Refused (nothing to insert) otherwise.
    /// </summary>
    public AppendResult Apply(NewEvent e, DateTimeOffset now)
    {
        switch (e.Kind)
        {
            case EventKind.Message when e.ThreadRootId is { } root:
                return FindMessage(e.ConversationId, root) switch
                {
                    null or { Deleted: true } => Refused(AppendRefusal.TargetNotFound),
                    { ThreadRootId: not null } => Refused(AppendRefusal.RootIsReply),
                    _ => Stored,
                };
            case EventKind.MessageEdited:
                return Edit(e, now);
            case EventKind.MessageDeleted:
                return Delete(e, now);
            case EventKind.ReactionAdded:
                return AddReaction(e, now);
            case EventKind.ReactionRemoved:
                return RemoveReaction(e);
            default:
                return Stored;
        }
    }

    /// <summary>After a message row is inserted: its thread's summary and participants, and its mention rows.</summary>
    public void RecordMessage(NewEvent e, long seq, DateTimeOffset now)
    {
        if (e.ThreadRootId is { } root)
        {
            // Participants are kept in the order they joined: the root's author with the root, others with
            // their first reply.
            var rootMessage = FindMessage(e.ConversationId, root)!.Value;
            Execute(
                """
                INSERT INTO threads (conversation_id, root_id, reply_count, last_reply_at) VALUES ($c, $root, 1, $now)
                ON CONFLICT (conversation_id, root_id) DO UPDATE SET reply_count = reply_count + 1, last_reply_at = excluded.last_reply_at;
                INSERT OR IGNORE INTO thread_participants (conversation_id, root_id, user_id, joined_seq) VALUES ($c, $root, $author, $root_seq);
                INSERT OR IGNORE INTO thread_participants (conversation_id, root_id, user_id, joined_seq) VALUES ($c, $root, $sender, $seq);
                INSERT OR IGNORE INTO mentions (conversation_id, user_id, seq, sender_user_id)
                SELECT $c, user_id, $seq, $sender FROM thread_participants
                WHERE conversation_id = $c AND root_id = $root AND user_id <> $sender;
                """,
                p =>
                {
                    p.AddGuid("$c", e.ConversationId);
                    p.AddGuid("$root", root);
                    p.AddGuid("$author", rootMessage.SenderUserId);
                    p.AddInteger("$root_seq", rootMessage.Seq);
                    p.AddGuid("$sender", e.SenderUserId);
                    p.AddInteger("$seq", seq);
                    p.AddTime("$now", now);
                });
        }

        var mentioned = e.Mentions.Where(u => u != e.SenderUserId).Select(u => StoredValues.ToBytes(u));
        if (e.GroupMentions != GroupMentions.None)
        {
            mentioned = mentioned.Append(Everyone);
        }

        using var insert = Command("INSERT OR IGNORE INTO mentions (conversation_id, user_id, seq, sender_user_id) VALUES ($c, $user, $seq, $sender);");
        insert.Parameters.AddGuid("$c", e.ConversationId);
        var user = insert.Parameters.AddBlob("$user", Everyone);
        insert.Parameters.AddInteger("$seq", seq);
        insert.Parameters.AddGuid("$sender", e.SenderUserId);
        foreach (var id in mentioned)
        {
            user.Value = id;
            insert.ExecuteNonQuery();
        }
    }

    private static AppendResult Stored { get; } = new(AppendOutcome.Stored, null);

    private static AppendResult Unchanged { get; } = new(AppendOutcome.Unchanged, null);

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

        Execute(
            "UPDATE events SET content_type = $type, content = $content, edited_at = $now WHERE conversation_id = $c AND seq = $seq;",
            p =>
            {
                p.AddText("$type", e.ContentType);
                p.AddBlob("$content", StoredValues.ArrayOf(e.Content));
                p.AddTime("$now", now);
                p.AddGuid("$c", e.ConversationId);
                p.AddInteger("$seq", target.Seq);
            });
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
                Execute(
                    """
                    UPDATE events SET content_type = '', content = x'', mentions = NULL, group_mentions = 0, deleted_at = $now WHERE conversation_id = $c AND seq = $seq;
                    UPDATE events SET content = x'', deleted_at = $now WHERE conversation_id = $c AND kind = 3 AND subject_id = $message;
                    DELETE FROM mentions WHERE conversation_id = $c AND seq = $seq;
                    DELETE FROM reactions WHERE conversation_id = $c AND message_id = $message;
                    """,
                    p =>
                    {
                        p.AddTime("$now", now);
                        p.AddGuid("$c", e.ConversationId);
                        p.AddInteger("$seq", target.Seq);
                        p.AddGuid("$message", e.SubjectId!.Value);
                    });
                return Stored;
        }
    }

    private AppendResult AddReaction(NewEvent e, DateTimeOffset now)
    {
        if (FindMessage(e.ConversationId, e.SubjectId) is not { Deleted: false })
        {
            return Refused(AppendRefusal.TargetNotFound);
        }

        var emoji = System.Text.Encoding.UTF8.GetString(e.Content.Span);
        using (var counts = Command(
            """
            SELECT EXISTS (SELECT 1 FROM reactions WHERE conversation_id = $c AND message_id = $m AND emoji = $emoji AND user_id = $user),
                   EXISTS (SELECT 1 FROM reactions WHERE conversation_id = $c AND message_id = $m AND emoji = $emoji),
                   (SELECT count(DISTINCT emoji) FROM reactions WHERE conversation_id = $c AND message_id = $m),
                   (SELECT count(*) FROM reactions WHERE conversation_id = $c AND message_id = $m AND user_id = $user);
            """))
        {
            AddReactionKey(counts.Parameters, e, emoji);
            using var reader = counts.ExecuteReader();
            reader.Read();
            if (reader.GetInt64(0) != 0)
            {
                return Unchanged;
            }

            var newEmoji = reader.GetInt64(1) == 0;
            if ((newEmoji && reader.GetInt64(2) >= MessageRules.MaxEmojiPerMessage) || reader.GetInt64(3) >= MessageRules.MaxReactionsPerUser)
            {
                return Refused(AppendRefusal.TooManyReactions);
            }
        }

        using var insert = Command("INSERT INTO reactions (conversation_id, message_id, emoji, user_id, added_at) VALUES ($c, $m, $emoji, $user, $now);");
        AddReactionKey(insert.Parameters, e, emoji);
        insert.Parameters.AddTime("$now", now);
        insert.ExecuteNonQuery();
        return Stored;
    }

    private AppendResult RemoveReaction(NewEvent e)
    {
        using var delete = Command("DELETE FROM reactions WHERE conversation_id = $c AND message_id = $m AND emoji = $emoji AND user_id = $user;");
        AddReactionKey(delete.Parameters, e, System.Text.Encoding.UTF8.GetString(e.Content.Span));
        if (delete.ExecuteNonQuery() != 0)
        {
            return Stored;
        }

        // A reaction removed proves its message is there (a deletion takes its reactions); nothing removed is
        // NOT_FOUND unless the message is there, not deleted.
        return FindMessage(e.ConversationId, e.SubjectId) is { Deleted: false } ? Unchanged : Refused(AppendRefusal.TargetNotFound);
    }

    private static void AddReactionKey(SqliteParameterCollection parameters, NewEvent e, string emoji)
    {
        parameters.AddGuid("$c", e.ConversationId);
        parameters.AddGuid("$m", e.SubjectId!.Value);
        parameters.AddText("$emoji", emoji);
        parameters.AddGuid("$user", e.SenderUserId);
    }

    // The message (kind 0) with this id in the conversation; null when there is none.
    private Target? FindMessage(Guid conversationId, Guid? messageId)
    {
        if (messageId is not { } id)
        {
            return null;
        }

        using var find = Command("SELECT seq, kind, sender_user_id, thread_root_id, deleted_at FROM events WHERE conversation_id = $c AND event_id = $id;");
        find.Parameters.AddGuid("$c", conversationId);
        find.Parameters.AddGuid("$id", id);
        using var reader = find.ExecuteReader();
        if (!reader.Read() || (EventKind)reader.GetInt64(1) != EventKind.Message)
        {
            return null;
        }

        return new Target(reader.GetInt64(0), reader.ReadGuid(2), reader.ReadNullableGuid(3), !reader.IsDBNull(4));
    }

    private void Execute(string sql, Action<SqliteParameterCollection> bind)
    {
        using var command = Command(sql);
        bind(command.Parameters);
        command.ExecuteNonQuery();
    }

    private SqliteCommand Command(string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction();
        return command;
    }
}
