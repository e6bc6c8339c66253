using System.Threading.Channels;
using ChatWire.Protocol.Frames;

namespace ChatWire.Client.Internal;

// Turns the messages a connection receives into MessageReceived events, in order and once each:
// drops duplicates by (conversation, message id) — delivery is at-least-once (DESIGN §4) and a
// reconnect's catch-up overlaps the live stream — and remembers the highest seq per conversation so a
// reconnect knows where to page HISTORY from. While a catch-up runs, live messages are held back so
// the missed ones come out first.
internal sealed class MessageDelivery
{
    private readonly ChannelWriter<ChatWireEvent> _events;
    private readonly int _dedupeWindow;
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, ulong> _highestSeq = [];
    private readonly HashSet<(Guid Conversation, Guid Message)> _seen = [];
    private readonly Queue<(Guid Conversation, Guid Message)> _seenOrder = new();
    private List<ChatMessage>? _held;

    public MessageDelivery(ChannelWriter<ChatWireEvent> events, int dedupeWindow)
    {
        _events = events;
        _dedupeWindow = dedupeWindow;
    }

    public int HeldCount
    {
        get
        {
            lock (_lock)
            {
                return _held?.Count ?? 0;
            }
        }
    }

    public ulong? HighestSeq(Guid conversationId)
    {
        lock (_lock)
        {
            return _highestSeq.TryGetValue(conversationId, out var seq) ? seq : null;
        }
    }

    // A message pushed by the server (MESSAGE).
    public void DeliverLive(ChatMessage message)
    {
        lock (_lock)
        {
            if (_held is not null)
            {
                _held.Add(message);
                return;
            }

            DeliverLocked(message);
        }
    }

    // A message fetched by a catch-up (HISTORY after a reconnect).
    public void DeliverMissed(ChatMessage message)
    {
        lock (_lock)
        {
            DeliverLocked(message);
        }
    }

    // Starts holding live messages and returns where each known conversation's catch-up starts.
    public List<KeyValuePair<Guid, ulong>> BeginHold()
    {
        lock (_lock)
        {
            _held ??= [];
            return [.. _highestSeq];
        }
    }

    // Ends the hold: releases held messages of conversations for which release says yes, drops the
    // rest (their conversation's catch-up did not finish; the next one fetches them again).
    public void EndHold(Func<Guid, bool> release)
    {
        lock (_lock)
        {
            var held = _held;
            _held = null;
            if (held is null)
            {
                return;
            }

            foreach (var message in held)
            {
                if (release(message.ConversationId))
                {
                    DeliverLocked(message);
                }
            }
        }
    }

    private void DeliverLocked(ChatMessage message)
    {
        var key = (message.ConversationId, message.MessageId);
        if (!_seen.Add(key))
        {
            return;
        }

        _seenOrder.Enqueue(key);
        if (_seenOrder.Count > _dedupeWindow)
        {
            _seen.Remove(_seenOrder.Dequeue());
        }

        if (!_highestSeq.TryGetValue(message.ConversationId, out var highest) || message.Seq > highest)
        {
            _highestSeq[message.ConversationId] = message.Seq;
        }

        _events.TryWrite(new MessageReceived(message));
    }
}
