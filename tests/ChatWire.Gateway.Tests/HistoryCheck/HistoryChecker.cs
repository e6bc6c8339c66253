using ChatWire.Protocol.Frames;

namespace ChatWire.Gateway.Tests.HistoryCheck;

/// <summary>How one SEND attempt ended, as its client saw it (Jepsen's ok, fail and info).</summary>
internal enum AttemptOutcome
{
    /// <summary>SEND_ACK: the message is stored with <see cref="SendAttempt.Seq"/>.</summary>
    Ok,

    /// <summary>An ERROR that means nothing was stored (anything but the store's or the server's own failure).</summary>
    Fail,

    /// <summary>No answer (a timeout, a broken connection) or STORAGE_UNAVAILABLE / INTERNAL_ERROR: it may or may not be stored.</summary>
    Info,
}

/// <summary>
/// One SEND written by a client: the message id it named (a resend names the same one), when it was written and
/// when its answer arrived (the client's monotonic clock, <see cref="System.Diagnostics.Stopwatch"/> ticks), and how it ended.
/// </summary>
internal sealed record SendAttempt(int Client, Guid Conversation, Guid MessageId, long InvokedAt, long CompletedAt, AttemptOutcome Outcome, ulong Seq = 0, string? Error = null);

/// <summary>An EVENT pushed to one connection (<paramref name="Session"/> names the connection, not the device).</summary>
internal readonly record struct Delivery(string Session, Guid Conversation, ulong Seq, Guid EventId);

/// <summary>What a history check found: every anomaly in words, and the counts it worked from.</summary>
internal sealed record HistoryVerdict(IReadOnlyList<string> Anomalies, int Messages, int Acknowledged, int Failed, int Indeterminate, int IndeterminateStored, int Attempts, int AttemptsUnanswered, int Deliveries, int DeliveredAgain, int Followers = 0)
{
    public override string ToString() =>
        $"{Messages} messages sent in {Attempts} attempts ({AttemptsUnanswered} without a definite answer): {Acknowledged} acknowledged, " +
        $"{Failed} refused, {Indeterminate} indeterminate ({IndeterminateStored} of them stored); {Deliveries} deliveries checked, " +
        $"{DeliveredAgain} of them a second time to the same connection; {Followers} devices following the client's rules checked for every event; " +
        $"{Anomalies.Count} anomalies" +
        (Anomalies.Count == 0 ? "" : ":\n  " + string.Join("\n  ", Anomalies.Take(40)));
}

/// <summary>
/// Checks a recorded history of SENDs and pushed EVENTs against the conversations' events as the store holds them
/// afterwards, the way Jepsen's set and queue checkers do: an acknowledged message must be there with its seq, a
/// refused one must not, an indeterminate one may be either; seqs are 1, 2, 3, … with no gap and no message twice;
/// nothing is there that no client sent; a message acknowledged before another was written has the lower seq (one
/// order per conversation, in real time); and every EVENT a connection received is the stored event of that seq,
/// and, with <c>oneNode</c>, received once and in increasing seq order on that connection. Several nodes may push
/// one conversation's events to a connection out of order, and push some twice (a node publishes the stored events
/// of the minute before a Redis outage again afterwards): docs/protocol.md §4.11, where the client's watermark puts
/// them back in order and drops the second copy. Those are counted, not failed. What is failed is a device that
/// follows §4.10's rules (<see cref="DeviceTimeline"/>: watermarks, HISTORY for gaps, SYNC after every connect) and
/// does not end up with every stored event of its conversations exactly once, in seq order.
/// </summary>
internal static class HistoryChecker
{
    public static HistoryVerdict Check(IReadOnlyCollection<SendAttempt> attempts, IReadOnlyDictionary<Guid, IReadOnlyList<ConversationEvent>> stored, IReadOnlyCollection<Delivery> deliveries, bool oneNode, IReadOnlyCollection<DeviceTimeline>? followers = null)
    {
        var anomalies = new List<string>();
        var bySeq = new Dictionary<(Guid, ulong), ConversationEvent>();
        var messages = new Dictionary<Guid, ConversationEvent>();
        foreach (var (conversation, events) in stored)
        {
            for (var i = 0; i < events.Count; i++)
            {
                var e = events[i];
                if (e.Seq != (ulong)i + 1)
                {
                    anomalies.Add($"{conversation}: the event at position {i + 1} has seq {e.Seq} (a gap or a repeat)");
                }

                bySeq.TryAdd((conversation, e.Seq), e);
                if (e.Kind == EventKind.Message && !messages.TryAdd(e.EventId, e))
                {
                    anomalies.Add($"{conversation}: message {e.EventId} is stored twice (seq {messages[e.EventId].Seq} and {e.Seq})");
                }
            }
        }

        var sent = attempts.GroupBy(a => a.MessageId).ToDictionary(g => g.Key, g => g.OrderBy(a => a.InvokedAt).ToList());
        int acknowledged = 0, failed = 0, indeterminate = 0, indeterminateStored = 0;
        foreach (var (id, tries) in sent)
        {
            messages.TryGetValue(id, out var message);
            var present = message.EventId == id;
            var oks = tries.Where(a => a.Outcome == AttemptOutcome.Ok).ToList();
            if (present && message.ConversationId != tries[0].Conversation)
            {
                anomalies.Add($"message {id} was sent to {tries[0].Conversation} but is stored in {message.ConversationId}");
            }

            if (oks.Count > 0)
            {
                acknowledged++;
                if (!present)
                {
                    anomalies.Add($"message {id} was acknowledged with seq {oks[0].Seq} but is not stored (lost)");
                }

                foreach (var ok in oks.Where(ok => present && ok.Seq != message.Seq))
                {
                    anomalies.Add($"message {id} was acknowledged with seq {ok.Seq} but is stored with seq {message.Seq}");
                }
            }
            else if (tries.All(a => a.Outcome == AttemptOutcome.Fail))
            {
                // Refused every time it was sent. After an attempt without an answer a refusal proves nothing: some
                // refusals (the conversation's rate, NOT_A_MEMBER) do not look the message up.
                failed++;
                if (present)
                {
                    anomalies.Add($"message {id} was refused ({tries.First(a => a.Outcome == AttemptOutcome.Fail).Error}) but is stored with seq {message.Seq}");
                }
            }
            else
            {
                indeterminate++;
                indeterminateStored += present ? 1 : 0;
            }
        }

        foreach (var (id, message) in messages.Where(m => !sent.ContainsKey(m.Key)))
        {
            anomalies.Add($"{message.ConversationId}: message {id} at seq {message.Seq} was never sent (a phantom)");
        }

        CheckRealTimeOrder(attempts, messages, anomalies);
        var deliveredAgain = CheckDeliveries(deliveries, bySeq, oneNode, anomalies);
        foreach (var follower in followers ?? [])
        {
            CheckTimeline(follower, stored, anomalies);
        }

        return new HistoryVerdict(anomalies, sent.Count, acknowledged, failed, indeterminate, indeterminateStored, attempts.Count, attempts.Count(a => a.Outcome == AttemptOutcome.Info), deliveries.Count, deliveredAgain, followers?.Count ?? 0);
    }

    // A device that follows the rules uses each of its conversations' stored events once, in seq order, and nothing else.
    private static void CheckTimeline(DeviceTimeline device, IReadOnlyDictionary<Guid, IReadOnlyList<ConversationEvent>> stored, List<string> anomalies)
    {
        var used = device.Used.ToLookup(e => e.ConversationId);
        foreach (var conversation in device.Conversations)
        {
            var expected = stored.TryGetValue(conversation, out var events) ? events : [];
            var got = used[conversation].ToList();
            for (var i = 0; i < Math.Max(expected.Count, got.Count); i++)
            {
                if (i >= got.Count)
                {
                    anomalies.Add($"{device.Name} holds {got.Count} of {conversation}'s {expected.Count} events: it never got seq {expected[i].Seq}");
                    break;
                }

                if (i >= expected.Count || got[i].Seq != expected[i].Seq || got[i].EventId != expected[i].EventId)
                {
                    anomalies.Add($"{device.Name} used {got[i].EventId} as seq {got[i].Seq} of {conversation} in place {i + 1}, where the store holds " +
                        (i < expected.Count ? $"{expected[i].EventId} at seq {expected[i].Seq}" : "nothing"));
                    break;
                }
            }
        }
    }

    // If A's acknowledgement arrived before B's first SEND was written, A was stored first: seq(A) < seq(B), for any
    // two clients. Walks each conversation's stored messages by when they were first written, keeping the
    // acknowledgements that had arrived by then.
    private static void CheckRealTimeOrder(IReadOnlyCollection<SendAttempt> attempts, Dictionary<Guid, ConversationEvent> messages, List<string> anomalies)
    {
        var firstWritten = attempts.GroupBy(a => a.MessageId).ToDictionary(g => g.Key, g => g.Min(a => a.InvokedAt));
        var acks = attempts.Where(a => a.Outcome == AttemptOutcome.Ok).GroupBy(a => a.MessageId).Select(g => g.MinBy(a => a.CompletedAt)!).ToList();
        foreach (var conversation in attempts.GroupBy(a => a.Conversation))
        {
            var acked = acks.Where(a => a.Conversation == conversation.Key).OrderBy(a => a.CompletedAt).ToList();
            var written = firstWritten.Where(w => messages.TryGetValue(w.Key, out var m) && m.ConversationId == conversation.Key).OrderBy(w => w.Value).ToList();
            var next = 0;
            SendAttempt? highest = null;
            foreach (var (id, invokedAt) in written)
            {
                for (; next < acked.Count && acked[next].CompletedAt < invokedAt; next++)
                {
                    if (highest is null || acked[next].Seq > highest.Seq)
                    {
                        highest = acked[next];
                    }
                }

                if (highest is not null && messages[id].Seq <= highest.Seq && id != highest.MessageId)
                {
                    anomalies.Add($"{conversation.Key}: message {id} (seq {messages[id].Seq}) was first written after {highest.MessageId} (seq {highest.Seq}) was acknowledged, yet has the lower seq");
                }
            }
        }
    }

    // Returns how many deliveries repeated an event the connection had received before.
    private static int CheckDeliveries(IReadOnlyCollection<Delivery> deliveries, Dictionary<(Guid, ulong), ConversationEvent> bySeq, bool oneNode, List<string> anomalies)
    {
        var again = 0;
        foreach (var session in deliveries.GroupBy(d => (d.Session, d.Conversation)))
        {
            ulong last = 0;
            var seen = new HashSet<ulong>();
            foreach (var delivery in session)
            {
                if (!bySeq.TryGetValue((delivery.Conversation, delivery.Seq), out var e) || e.EventId != delivery.EventId)
                {
                    anomalies.Add($"{delivery.Session} received {delivery.EventId} as seq {delivery.Seq} of {delivery.Conversation}, which the store does not hold");
                }

                if (!seen.Add(delivery.Seq))
                {
                    again++;
                    if (oneNode)
                    {
                        anomalies.Add($"{delivery.Session} received seq {delivery.Seq} of {delivery.Conversation} twice");
                    }
                }
                else if (oneNode && delivery.Seq < last)
                {
                    anomalies.Add($"{delivery.Session} received seq {delivery.Seq} of {delivery.Conversation} after seq {last}");
                }

                last = Math.Max(last, delivery.Seq);
            }
        }

        return again;
    }
}
