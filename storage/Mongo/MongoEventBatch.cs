using System.Security.Cryptography;
using ChatWire.Storage.Messages;
using MongoDB.Bson;
using MongoDB.Driver;

namespace ChatWire.Storage.Mongo;

/// <summary>
/// One attempt at one batch, inside its transaction: decides each append's outcome in queue order,
/// allocates seqs from the heads read at the transaction's snapshot, inserts the events, then moves the
/// heads and the usage counts. Built anew for every attempt, so a retried transaction starts clean.
/// </summary>
/// <remarks>
/// Events are inserted in bulk, but only up to the next append that has to read them back (a resend, a
/// change to a message, a reply): the buffer is flushed first, so every read in the transaction sees the
/// batch's own earlier events.
/// </remarks>
internal sealed class MongoEventBatch(IClientSessionHandle session, MongoCollections collections, IncrementalHash hash, DateTimeOffset storedAt)
{
    private readonly MongoMessageChanges _changes = new(session, collections);

    // Per conversation: the head as read, and the last seq this attempt allocated.
    private readonly Dictionary<Guid, (long Read, long Last)> _heads = [];
    private readonly List<WriteModel<BsonDocument>> _unflushed = [];
    private readonly HashSet<(Guid ConversationId, Guid EventId)> _inserted = [];
    private readonly Dictionary<Guid, long> _usage = [];

    /// <summary>Sets every append's <see cref="PendingAppend.Result"/>; the caller commits.</summary>
    public void Apply(IReadOnlyList<PendingAppend> batch)
    {
        ReadHeads(batch);
        foreach (var pending in batch)
        {
            pending.Result = Append(pending.Event);
            if (pending.Result.Outcome == AppendOutcome.Stored && pending.Event.Content.Length > 0)
            {
                CountUsage(pending.Event);
            }
        }

        Flush();

        // Last, so the transaction holds the heads for as short a time as it can; a head moved by another
        // writer since this transaction's snapshot makes this a write conflict, and the batch runs again.
        var heads = _heads.Where(h => h.Value.Last > h.Value.Read).Select(h => MongoCommands.IncrementHead(h.Key, h.Value.Last - h.Value.Read)).ToList();
        if (heads.Count > 0)
        {
            collections.Heads.BulkWrite(session, heads, MongoCommands.Unordered);
        }

        if (_usage.Count > 0)
        {
            collections.Usage.BulkWrite(session, _usage.Select(u => MongoCommands.AddUsage(u.Key, u.Value)), MongoCommands.Unordered);
        }
    }

    private void ReadHeads(IReadOnlyList<PendingAppend> batch)
    {
        var conversations = batch.Select(p => p.Event.ConversationId).Distinct().ToList();
        foreach (var id in conversations)
        {
            _heads[id] = (0, 0);
        }

        foreach (var head in collections.Heads.Find(session, MongoCommands.Heads(conversations)).ToList())
        {
            var last = head[Fields.LastSeq].ToInt64();
            _heads[MongoDocuments.ToGuid(head[Fields.Id])] = (last, last);
        }
    }

    private AppendResult Append(NewEvent e)
    {
        // A resend of an event stored before, or earlier in this batch.
        if (_inserted.Contains((e.ConversationId, e.EventId)))
        {
            Flush();
        }

        var existing = collections.Events.Find(session, MongoCommands.FindEvent(e.ConversationId, e.EventId)).FirstOrDefault();
        if (existing is not null)
        {
            var original = MongoDocuments.ToStoredEvent(existing);
            return EventIdentity.AnswerTo(e, original, MongoDocuments.OriginalDigest(existing), hash);
        }

        // What the event changes is checked and applied first: a refused or no-op change takes no seq.
        var touchesMessages = e.Kind != EventKind.Message || e.ThreadRootId is not null;
        if (touchesMessages)
        {
            Flush();
            var change = _changes.Apply(e, storedAt);
            if (change.Outcome != AppendOutcome.Stored)
            {
                return change;
            }
        }

        var head = _heads[e.ConversationId];
        var seq = head.Last + 1;
        _heads[e.ConversationId] = (head.Read, seq);
        var stored = e.ToStored((ulong)seq, storedAt);
        var digest = EventIdentity.OriginalDigest(hash, e);
        _unflushed.Add(MongoCommands.InsertEvent(MongoDocuments.ToDocument(stored, digest)));
        _inserted.Add((e.ConversationId, e.EventId));
        if (e.Kind == EventKind.Message && (e.ThreadRootId is not null || e.Mentions.Count > 0 || e.GroupMentions != GroupMentions.None))
        {
            _changes.RecordMessage(e, seq, storedAt);
        }

        return new AppendResult(AppendOutcome.Stored, stored);
    }

    private void Flush()
    {
        if (_unflushed.Count == 0)
        {
            return;
        }

        collections.Events.BulkWrite(session, _unflushed, MongoCommands.Unordered);
        _unflushed.Clear();
    }

    private void CountUsage(NewEvent e)
    {
        _usage[e.SenderUserId] = _usage.GetValueOrDefault(e.SenderUserId) + e.Content.Length;
        if (e.UsageTeamId is { } team)
        {
            _usage[team] = _usage.GetValueOrDefault(team) + e.Content.Length;
        }
    }
}
