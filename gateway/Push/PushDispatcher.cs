using ChatWire.Routing.Presence;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Messages;
using ChatWire.Storage.Push;

namespace ChatWire.Gateway.Push;

/// <summary>
/// Decides, at a notification's due time, whether it still goes out, and sends it. It does not when the
/// user read the conversation up to the message on any device (a read elsewhere cancels what is pending),
/// when any of their devices acknowledged receiving it (RECEIVED moved that device's cursor past it), when
/// they are in do-not-disturb (their preference, or the DND presence status), when no device is
/// registered, or when they are no longer in the conversation (they left it, were removed, or its team was
/// deleted while the notification waited). Otherwise every registered device gets it, with the conversation's unread count and the
/// badge (the unread count over all their conversations).
/// </summary>
internal sealed class PushDispatcher(
    IPushStore pushes,
    IDirectoryStore directory,
    IMessageStore messages,
    IPresenceRegistry presence,
    PushDelivery delivery,
    PushMetrics metrics,
    Microsoft.Extensions.Options.IOptions<PushOptions> options,
    TimeProvider time)
{
    /// <summary>Of one notification's devices, how many are sent to at once: one user holds at most this many provider slots.</summary>
    public const int DevicesAtOnce = 2;

    /// <summary>Handles <paramref name="pending"/>; returns once every device's send is done or given up.</summary>
    public async Task DispatchAsync(PendingPush pending, CancellationToken cancellationToken)
    {
        var devices = await pushes.ListPushTokensAsync(pending.UserId, cancellationToken);
        if (devices.Count == 0)
        {
            metrics.Skipped("no_device");
            return;
        }

        if (!await directory.IsConversationMemberAsync(pending.ConversationId, pending.UserId, cancellationToken))
        {
            metrics.Skipped("not_member");
            return;
        }

        var stats = (await messages.GetStatsAsync(pending.UserId, [pending.ConversationId], cancellationToken: cancellationToken))[pending.ConversationId];
        if (stats.ReadSeq >= pending.Seq)
        {
            metrics.Skipped("read");
            return;
        }

        // Every device the user has a session on, in one read: has any of them acknowledged the message?
        var sessions = await directory.ListDeviceSessionsAsync(pending.UserId, cancellationToken);
        if (await messages.GetFurthestDeviceCursorAsync(pending.ConversationId, [.. sessions.Select(s => s.DeviceId)], cancellationToken) >= pending.Seq)
        {
            metrics.Skipped("received");
            return;
        }

        var preferences = await pushes.GetPushPreferencesAsync(pending.UserId, cancellationToken);
        if (preferences.DoNotDisturbUntil > time.GetUtcNow()
            || (await presence.ReadAsync([pending.UserId], cancellationToken)).GetValueOrDefault(pending.UserId).Status == UserStatus.DoNotDisturb)
        {
            metrics.Skipped("do_not_disturb");
            return;
        }

        var notification = new PushNotification(
            pending.ConversationId, pending.MessageId, pending.Seq, pending.Reason, pending.SenderId, pending.Count, stats.UnreadCount,
            await BadgeAsync(pending.UserId, cancellationToken));
        await SendWithinDeadlineAsync([.. devices.OrderByDescending(d => d.RegisteredAt).Take(options.Value.MaxDevicesPerUser)], notification, cancellationToken);
    }

    // A receiver that never answers (a webhook URL that accepts connections and stays silent) costs a provider slot for
    // a whole request timeout, on every attempt. Two devices at a time, and one deadline for all of a notification's
    // webhook sends, keep one user's registrations from holding the node's slots and the queue behind them: what is
    // unsent by then is given up and counted timed_out. APNs and FCM, the operator's own choice of endpoint, keep every
    // attempt and a Retry-After of up to a minute. A webhook receiver that had a request when the deadline came is then
    // passed over for a while (SilentReceivers, in PushDelivery). One device's failure does not stop the others; the
    // first is thrown once all are done.
    private async Task SendWithinDeadlineAsync(List<PushTokenRecord> devices, PushNotification notification, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromMilliseconds(options.Value.DispatchTimeoutMs));
        Exception? failure = null;
        await Parallel.ForEachAsync(devices, new ParallelOptions { MaxDegreeOfParallelism = DevicesAtOnce, CancellationToken = cancellationToken }, async (device, _) =>
        {
            var token = device.Provider == PushProvider.Webhook ? deadline.Token : cancellationToken;
            try
            {
                await delivery.SendAsync(device, notification, token);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                metrics.Count(device.Provider, "timed_out");
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Interlocked.CompareExchange(ref failure, ex, null);
            }
        });

        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }

    // The unread messages over every conversation of the user, each conversation counted up to the store's cap.
    private async Task<int> BadgeAsync(Guid userId, CancellationToken cancellationToken)
    {
        var conversations = (await directory.ListConversationsForUserAsync(userId, cancellationToken)).Select(c => c.Id).ToList();
        var total = 0;
        foreach (var chunk in conversations.Chunk(500))
        {
            foreach (var stats in (await messages.GetStatsAsync(userId, chunk, cancellationToken: cancellationToken)).Values)
            {
                total += stats.UnreadCount;
            }
        }

        return total;
    }
}
