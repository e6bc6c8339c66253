using System.Text;
using System.Diagnostics;
using ChatWire.Gateway.Observability;
using ChatWire.Gateway.Sessions;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Storage.Messages;

namespace ChatWire.Gateway.Delivery;

/// <summary>
/// SEND and HISTORY (docs/architecture.md): authorize, persist through the group-commit writer, acknowledge,
/// then publish. The order is the promise: an ACK means durable, and a lost publish costs latency only,
/// because clients page what they missed from the store by seq.
/// </summary>
internal sealed class MessagePipeline(
    IMessageStore store,
    MembershipCache membership,
    DeliveryFanout fanout,
    GatewayMetrics metrics,
    ILogger<MessagePipeline> logger)
{
    public Task HandleSendAsync(Session session, Send send)
    {
        if (send.ContentType.Length == 0)
        {
            session.SendError(send.RequestId, ErrorCode.InvalidField, "content_type must not be empty.");
            return Task.CompletedTask;
        }

        return SendAsync(session, send);
    }

    private async Task SendAsync(Session session, Send send)
    {
        var started = Stopwatch.GetTimestamp();
        var identity = session.Identity!;
        AppendResult result;
        try
        {
            // A conversation that does not exist answers like one the caller is not in: existence does not leak.
            if (!await membership.IsMemberAsync(send.ConversationId, identity.UserId, CancellationToken.None))
            {
                session.SendError(send.RequestId, ErrorCode.NotAMember, "You are not a member of this conversation.");
                return;
            }

            result = await store.AppendAsync(new NewMessage(
                send.ConversationId, send.MessageId, identity.UserId, identity.DeviceId, send.ContentType, send.Content));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.SendFailed(logger, ex);
            session.SendError(send.RequestId, ErrorCode.StorageUnavailable, "The message could not be stored; it was not acknowledged. Retry with the same message id.");
            return;
        }

        if (result.Outcome == AppendOutcome.Conflict || result.Message is not { } stored)
        {
            session.SendError(send.RequestId, ErrorCode.IdempotencyConflict, "This message id was already used with a different body.");
            return;
        }

        var serverTime = stored.StoredAt.ToUnixTimeMilliseconds();
        session.Send(new SendAck(send.RequestId, stored.ConversationId, stored.MessageId, stored.Seq, serverTime));
        metrics.SendDuration.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);

        if (result.Outcome == AppendOutcome.Stored)
        {
            var frame = FrameCodec.ToArray(new MessageEvent(ToChatMessage(stored)));
            await fanout.PublishAsync(stored.ConversationId, session.ConnectionId, frame);
        }
    }

    public async ValueTask HandleHistoryAsync(Session session, History history)
    {
        var identity = session.Identity!;
        try
        {
            if (!await membership.IsMemberAsync(history.ConversationId, identity.UserId, CancellationToken.None))
            {
                session.SendError(history.RequestId, ErrorCode.NotAMember, "You are not a member of this conversation.");
                return;
            }

            var direction = history.Direction == HistoryDirection.After ? ReadDirection.After : ReadDirection.Before;

            // One more than asked tells whether the page has more beyond it, without a count query.
            var messages = await store.ReadAsync(history.ConversationId, history.FromSeq, direction, (int)history.Limit + 1);
            var (page, hasMore) = TakePage(messages, (int)history.Limit, direction, session.MaxPageBytes);
            session.Send(new HistoryPage(history.RequestId, history.ConversationId, page, hasMore));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.SendFailed(logger, ex);
            session.SendError(history.RequestId, ErrorCode.StorageUnavailable, "History could not be read; retry.");
        }
    }

    // A page holds at most `limit` messages and fits in one frame; it keeps the messages nearest the
    // starting seq (the newest for Before, the oldest for After) and lists them ascending.
    private static (ChatMessage[] Page, bool HasMore) TakePage(IReadOnlyList<StoredMessage> messages, int limit, ReadDirection direction, int maxBytes)
    {
        var taken = new List<ChatMessage>(Math.Min(messages.Count, limit));
        var bytes = 0;
        for (var k = 0; k < messages.Count && taken.Count < limit; k++)
        {
            var message = messages[direction == ReadDirection.Before ? messages.Count - 1 - k : k];
            bytes += message.Content.Length + Encoding.UTF8.GetByteCount(message.ContentType) + PerMessageOverhead;
            if (bytes > maxBytes && taken.Count > 0)
            {
                break;
            }

            taken.Add(ToChatMessage(message));
        }

        if (direction == ReadDirection.Before)
        {
            taken.Reverse();
        }

        return (taken.ToArray(), taken.Count < messages.Count);
    }

    // Ids, seq, time and MessagePack headers of one HISTORY_PAGE entry, rounded up.
    private const int PerMessageOverhead = 96;

    private static ChatMessage ToChatMessage(StoredMessage m) =>
        new(m.ConversationId, m.MessageId, m.Seq, m.SenderUserId, m.SenderDeviceId, m.StoredAt.ToUnixTimeMilliseconds(), m.ContentType, m.Content);
}
