namespace ChatWire.Storage.Push;

/// <summary>Where a device's push notifications go. The numbers are stored; new providers are added, never renumbered.</summary>
public enum PushProvider : byte
{
    /// <summary>Apple Push Notification service; the token is the device token (hex).</summary>
    Apns = 1,

    /// <summary>Firebase Cloud Messaging HTTP v1; the token is the registration token.</summary>
    Fcm = 2,

    /// <summary>A generic HTTPS webhook; the token is the URL.</summary>
    Webhook = 3,
}

/// <summary>Which messages a user is notified of. The numbers are stored.</summary>
public enum PushLevel : byte
{
    /// <summary>Every message in the conversations, besides DMs, mentions and thread replies.</summary>
    All = 0,

    /// <summary>DMs and group DMs, mentions (by name, @channel, @here) and replies in threads the user takes part in.</summary>
    MentionsAndDirect = 1,

    /// <summary>Nothing.</summary>
    None = 2,
}

/// <summary>One device's push registration; a device has at most one (a new registration replaces it).</summary>
public sealed record PushTokenRecord(Guid DeviceId, Guid UserId, PushProvider Provider, string Token, DateTimeOffset RegisteredAt);

/// <summary>
/// A user's notification settings: the level, a do-not-disturb end (nothing is pushed before it), and levels
/// for single conversations that replace the user's level there.
/// </summary>
public sealed record PushPreferences(PushLevel Level, DateTimeOffset? DoNotDisturbUntil, IReadOnlyDictionary<Guid, PushLevel> Conversations)
{
    /// <summary>What a user who never chose gets.</summary>
    public static PushPreferences Default { get; } = new(PushLevel.MentionsAndDirect, null, new Dictionary<Guid, PushLevel>());

    /// <summary>The level in force in <paramref name="conversationId"/>.</summary>
    public PushLevel LevelIn(Guid conversationId) => Conversations.TryGetValue(conversationId, out var level) ? level : Level;
}

/// <summary>Why a message qualifies for a push; the numbers are stored and the names are the payload's <c>kind</c>.</summary>
public enum PushReason : byte
{
    /// <summary>A message in a conversation whose level is <see cref="PushLevel.All"/>.</summary>
    Message = 0,

    /// <summary>A message in a DM or group DM.</summary>
    Direct = 1,

    /// <summary>A message that names the user.</summary>
    Mention = 2,

    /// <summary>A message with @channel, or @here while the user was online.</summary>
    GroupMention = 3,

    /// <summary>A reply in a thread the user started or replied in.</summary>
    ThreadReply = 4,
}

/// <summary>
/// A notification waiting for its due time: one per (user, conversation). Messages that qualify while one
/// waits are folded into it: it then names the newest (<see cref="MessageId"/>, <see cref="Seq"/>,
/// <see cref="SenderId"/>, <see cref="Reason"/>) and <see cref="Count"/> says how many.
/// </summary>
public sealed record PendingPush(
    Guid UserId, Guid ConversationId, Guid MessageId, ulong Seq, Guid SenderId, PushReason Reason, int Count, DateTimeOffset DueAt);

/// <summary>
/// Push registrations, preferences, the embedded queue of pending notifications and the record of what was
/// sent, in the directory database (SQLite or MySQL; PushStoreContract). A device's registration goes with
/// its session: revoking the session deletes it in the same transaction.
/// </summary>
public interface IPushStore
{
    /// <summary>Registers the device's token, replacing any earlier registration of the device.</summary>
    Task SetPushTokenAsync(PushTokenRecord token, CancellationToken cancellationToken = default);

    /// <summary>Deletes the device's registration; false when it had none.</summary>
    Task<bool> DeletePushTokenAsync(Guid deviceId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes the device's registration only while it still holds <paramref name="token"/> (a provider said the
    /// token is dead; a registration made since stays); false otherwise.
    /// </summary>
    Task<bool> DeletePushTokenIfAsync(Guid deviceId, string token, CancellationToken cancellationToken = default);

    Task<PushTokenRecord?> GetPushTokenAsync(Guid deviceId, CancellationToken cancellationToken = default);

    /// <summary>The registrations of the user's devices whose sessions are not revoked.</summary>
    Task<IReadOnlyList<PushTokenRecord>> ListPushTokensAsync(Guid userId, CancellationToken cancellationToken = default);

    /// <summary>Those of <paramref name="userIds"/> with at least one registered device whose session is not revoked.</summary>
    Task<IReadOnlySet<Guid>> FilterUsersWithPushTokensAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken = default);

    /// <summary>The user's settings (<see cref="PushPreferences.Default"/> when never set).</summary>
    Task<PushPreferences> GetPushPreferencesAsync(Guid userId, CancellationToken cancellationToken = default);

    /// <summary>
    /// The settings of many users as they apply in one conversation: each user's level there and their
    /// do-not-disturb end. Users who never chose get the defaults.
    /// </summary>
    Task<IReadOnlyDictionary<Guid, (PushLevel Level, DateTimeOffset? DoNotDisturbUntil)>> GetPushLevelsAsync(
        IReadOnlyCollection<Guid> userIds, Guid conversationId, CancellationToken cancellationToken = default);

    /// <summary>Sets the user's level and do-not-disturb end (null: none), keeping the conversation levels.</summary>
    Task SetPushPreferencesAsync(Guid userId, PushLevel level, DateTimeOffset? doNotDisturbUntil, CancellationToken cancellationToken = default);

    /// <summary>Sets the user's level in one conversation; null removes it (the user's level applies again).</summary>
    Task SetConversationPushLevelAsync(Guid userId, Guid conversationId, PushLevel? level, CancellationToken cancellationToken = default);

    /// <summary>
    /// Queues each notification, or folds it into the one already waiting for its (user, conversation): that
    /// one then names the new message, counts one more, and becomes due at the new due time but never later
    /// than <paramref name="maxDelay"/> after the due time it was first queued with (a steady stream is still notified).
    /// </summary>
    Task EnqueuePushesAsync(IReadOnlyList<PendingPush> pushes, TimeSpan maxDelay, CancellationToken cancellationToken = default);

    /// <summary>
    /// Notifications due at <paramref name="now"/>, earliest first, at most <paramref name="limit"/>, none of the users
    /// in <paramref name="exceptUsers"/> (the queue's: those whose notification is being sent).
    /// </summary>
    Task<IReadOnlyList<PendingPush>> ListDuePushesAsync(DateTimeOffset now, int limit, IReadOnlyList<Guid>? exceptUsers = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes the notification of (<paramref name="userId"/>, <paramref name="conversationId"/>) if it still
    /// names <paramref name="messageId"/>. One folded over since it was read stays, due at its own time, with
    /// the <paramref name="sentCount"/> messages the sent notification already announced taken off its count
    /// (never below 1): the next notification counts only what came after. False when nothing was removed.
    /// </summary>
    Task<bool> CompletePushAsync(Guid userId, Guid conversationId, Guid messageId, int sentCount, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records that the device was sent the message's notification; false when that was recorded before (the
    /// caller sends nothing: delivery is idempotent per device and message).
    /// </summary>
    Task<bool> RecordPushSentAsync(Guid deviceId, Guid messageId, DateTimeOffset sentAt, CancellationToken cancellationToken = default);

    Task<bool> WasPushSentAsync(Guid deviceId, Guid messageId, CancellationToken cancellationToken = default);

    /// <summary>Forgets sends recorded before <paramref name="before"/>; how many.</summary>
    Task<int> PrunePushSentAsync(DateTimeOffset before, CancellationToken cancellationToken = default);
}
