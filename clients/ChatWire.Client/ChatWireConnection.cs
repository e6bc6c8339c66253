using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using ChatWire.Client.Internal;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Client;

/// <summary>
/// A real-time connection to a ChatWire server over TCP, TLS or Noise (docs/protocol.md): HELLO/WELCOME and
/// AUTH/AUTH_OK, then requests (SEND, HISTORY) and pushed events (MESSAGE). One background loop reads
/// frames and answers server PINGs; the client PINGs after a heartbeat interval of silence.
/// </summary>
/// <remarks>
/// <para>
/// Events come out per conversation once each and in seq order. The connection keeps a contiguous
/// watermark per conversation (<see cref="Watermarks"/>): an event at or below it is a duplicate and is
/// dropped; an event past a gap is held while the missing range is fetched with HISTORY.
/// </para>
/// <para>
/// Connecting asks the server where every conversation of the user stands (SYNC): on the first link that
/// is where the stream starts (nothing older is replayed, unless <see cref="ChatWireConnectionOptions.ResumeWatermarks"/>
/// says otherwise). When a link drops (and the close is not terminal) the connection reconnects with
/// jittered exponential backoff (<see cref="ReconnectPolicy"/>), authenticates, syncs again and fetches what
/// it missed in every conversation, including ones it joined while disconnected (their newest
/// <see cref="ChatWireConnectionOptions.NewConversationBacklog"/> events). Requests in flight when a link
/// drops fail with <see cref="IOException"/>; retrying a SEND with the same message id is safe (the server
/// is idempotent). Requests made while reconnecting wait for the next link.
/// </para>
/// <para>
/// A node that drains sends GO_AWAY (docs/protocol.md §4.27): after a random delay within the window it
/// announces, the connection stops using that link, lets the answers it still expects arrive, and reconnects
/// at once to the next of <see cref="ChatWireConnectionOptions.FallbackEndpoints"/> (or the same host, a
/// balancer's), catching up as after any reconnect.
/// </para>
/// </remarks>
public sealed partial class ChatWireConnection : IAsyncDisposable
{
    private readonly ChatWireConnectionOptions _options;
    private readonly NoiseTrust _noiseTrust;
    private readonly EventBuffer _events;
    private Guid[] _watched = [];
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, ulong> _acknowledged = new();

    // The highest seq per conversation the app has read from ReadEventsAsync: what RECEIVED acknowledges.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, ulong> _consumed = new();
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<object>> _pending = new();
    private readonly ConversationStreams _streams;

    // The read position last known per conversation (from SYNC and READ_STATE), so that one that moved while no link
    // was up (read on another device) is announced after the reconnect's SYNC.
    private readonly ConcurrentDictionary<Guid, ulong> _readSeqs = new();
    private readonly CancellationTokenSource _lifetime = new();
    private readonly Lock _stateLock = new();
    private TaskCompletionSource<FrameLink> _linkReady = NewLinkSignal();

    // Completed by KEYS_CHANGED and by each new link, then replaced (NextOwnKeysChangeAsync); faulted when closed. Replaced
    // and faulted under _stateLock.
    private TaskCompletionSource _ownKeys = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private FrameLink? _link;
    private ConnectionState _state = ConnectionState.Connecting;
    private Exception? _closeError;
    private ErrorCode? _closeCode;
    private Task _supervisor = Task.CompletedTask;
    private int _nextRequestId;
    private int _disposed;

    private ChatWireConnection(ChatWireConnectionOptions options)
    {
        _options = options;
        _noiseTrust = new NoiseTrust(options);
        _events = new EventBuffer(options.EventBufferCapacity);
        _streams = new ConversationStreams(_events.Writer, options.ResumeWatermarks, () => _events.IsBehind);
    }

    /// <summary>The authenticated user (from AUTH_OK).</summary>
    public Guid UserId { get; private set; }

    /// <summary>The authenticated device (from AUTH_OK).</summary>
    public Guid DeviceId { get; private set; }

    /// <summary>The current state.</summary>
    public ConnectionState State
    {
        get
        {
            lock (_stateLock)
            {
                return _state;
            }
        }
    }

    /// <summary>The transport of the links (<see cref="ChatWireConnectionOptions.Transport"/>).</summary>
    public ChatWireTransport Transport => _options.Transport;

    /// <summary>Noise: the handshake pattern of the current (or last) link, IK when it ran under a trusted key; otherwise <see langword="null"/>.</summary>
    public ChatWire.Protocol.Noise.NoisePattern? NoisePattern { get; private set; }

    /// <summary>Noise: the server's static key the current (or last) link trusts (after a rotation, the announced one); otherwise <see langword="null"/>.</summary>
    public ReadOnlyMemory<byte>? NoiseServerKey { get; private set; }

    /// <summary>The limits the server announced in its last WELCOME (frame and content sizes).</summary>
    public ProtocolLimits Limits { get; private set; } = ProtocolLimits.Default;

    /// <summary>The heartbeat interval in use: the WELCOME's, unless the options override it.</summary>
    public TimeSpan HeartbeatInterval { get; private set; } = Timeout.InfiniteTimeSpan;

    /// <summary>The code of the last ERROR with request id 0, i.e. why the server last closed a link; <see langword="null"/> if it never did.</summary>
    public ErrorCode? CloseCode
    {
        get
        {
            lock (_stateLock)
            {
                return _closeCode;
            }
        }
    }

    /// <summary>
    /// Connects, says HELLO, authenticates and syncs (where each of the user's conversations stands). Fails
    /// fast unless <see cref="ChatWireConnectionOptions.RetryFirstConnect"/>: then a server that cannot be reached,
    /// times out or is busy is tried again under <see cref="ChatWireConnectionOptions.Reconnect"/>'s backoff (and
    /// <see cref="ChatWireConnectionOptions.FallbackEndpoints"/>), and only what retrying cannot cure (a refused token,
    /// an untrusted certificate or Noise key, plain TCP off loopback) or <paramref name="cancellationToken"/> ends it.
    /// The event stream starts with <see cref="ConnectionStateChanged"/>
    /// <see cref="ConnectionState.Connected"/>; events stored after this returns are all delivered.
    /// </summary>
    /// <param name="options">Where and how to connect.</param>
    /// <param name="cancellationToken">Cancels connecting (not the connection once it is made).</param>
    /// <exception cref="ChatWireException">The server refused HELLO or AUTH (e.g. <c>INVALID_TOKEN</c>).</exception>
    /// <exception cref="IOException">The connection closed during the handshake.</exception>
    /// <exception cref="System.Net.Sockets.SocketException">The server could not be reached (refused, no route, unknown host).</exception>
    /// <exception cref="System.Security.Authentication.AuthenticationException">TLS: the server's certificate was not trusted.</exception>
    /// <exception cref="InvalidOperationException">Plain TCP to a host off loopback without <see cref="ChatWireConnectionOptions.AllowPlaintext"/>.</exception>
    /// <exception cref="TimeoutException">The handshake took longer than <see cref="ChatWireConnectionOptions.ConnectTimeout"/>.</exception>
    /// <exception cref="NoiseServerKeyChangedException">Noise: the server proved a key other than the trusted one.</exception>
    public static async Task<ChatWireConnection> ConnectAsync(ChatWireConnectionOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.Host);
        ArgumentException.ThrowIfNullOrEmpty(options.SessionToken);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Port, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.EventBufferCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Port, 65535);
        if (options.PinnedCertificateSha256 is { } pin)
        {
            _ = CertificateValidation.ParseSha256(pin);
        }

        var connection = new ChatWireConnection(options);
        var link = options.RetryFirstConnect
            ? await connection.OpenFirstLinkRetryingAsync(cancellationToken).ConfigureAwait(false)
            : await FrameLink.OpenAsync(options, connection._noiseTrust, connection.NextRequestId, cancellationToken).ConfigureAwait(false);
        connection.Publish(link);
        connection._streams.BeginCatchUp(link.UserId);
        connection._supervisor = Task.Run(() => connection.SuperviseAsync(link), CancellationToken.None);
        try
        {
            await connection.CatchUpAsync(link, firstLink: true).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return connection;
    }

    /// <summary>
    /// Stores a message (SEND) and waits for the server's acknowledgement (SEND_ACK): the message is durable.
    /// Resending the same <paramref name="messageId"/> returns the original seq.
    /// </summary>
    /// <param name="conversationId">The channel, DM or group DM.</param>
    /// <param name="content">Opaque content, at most <see cref="ProtocolLimits.MaxContentLength"/> of <see cref="Limits"/>.</param>
    /// <param name="contentType">The media type of <paramref name="content"/>.</param>
    /// <param name="messageId">The idempotency key; a new UUIDv7 when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Stops waiting (the message may still be stored).</param>
    /// <exception cref="ChatWireException">
    /// The server refused the message (e.g. <c>NOT_A_MEMBER</c>), or it is too large. <c>RATE_LIMITED</c> is
    /// waited out and the message sent again, up to <see cref="ChatWireConnectionOptions.MaxRateLimitWait"/>;
    /// while one call waits, a concurrent call may store its message first. With <c>STORAGE_UNAVAILABLE</c> or
    /// <c>INTERNAL_ERROR</c> the message may have been stored all the same (the store failed while committing it):
    /// retry with the same message id, as after an <see cref="IOException"/>.
    /// </exception>
    /// <exception cref="IOException">The link dropped before the acknowledgement; retry with the same message id.</exception>
    /// <exception cref="TimeoutException">
    /// No acknowledgement within <see cref="ChatWireConnectionOptions.RequestTimeout"/>; retry with the same message id.
    /// </exception>
    public Task<SendResult> SendAsync(
        Guid conversationId,
        ReadOnlyMemory<byte> content,
        string contentType = ContentTypes.PlainText,
        Guid? messageId = null,
        CancellationToken cancellationToken = default) =>
        SendAsync(conversationId, content, contentType, messageId, options: null, cancellationToken);

    /// <summary>Sends a message with its thread and mentions; otherwise as <see cref="SendAsync(Guid, ReadOnlyMemory{byte}, string, Guid?, CancellationToken)"/>.</summary>
    /// <param name="conversationId">The channel, DM or group DM.</param>
    /// <param name="content">The content.</param>
    /// <param name="contentType">Its media type.</param>
    /// <param name="messageId">The idempotency key; a new UUIDv7 when <see langword="null"/>.</param>
    /// <param name="options">The thread to reply in and who the message mentions.</param>
    /// <param name="cancellationToken">Stops waiting (the message may still be stored).</param>
    public async Task<SendResult> SendAsync(
        Guid conversationId,
        ReadOnlyMemory<byte> content,
        string contentType,
        Guid? messageId,
        MessageOptions? options,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(contentType);
        if (messageId == Guid.Empty)
        {
            throw new ArgumentException("A message id must not be the empty Guid.", nameof(messageId));
        }

        var id = messageId ?? Guid.CreateVersion7();
        var link = await WaitForLinkAsync(cancellationToken).ConfigureAwait(false);
        if (content.Length > link.Limits.MaxContentLength)
        {
            throw new ChatWireException(
                ErrorCode.ContentTooLarge,
                $"The content is {content.Length} bytes; the server accepts at most {link.Limits.MaxContentLength}.");
        }

        if (Encoding.UTF8.GetByteCount(contentType) > link.Limits.MaxContentTypeLength)
        {
            throw new ChatWireException(ErrorCode.InvalidField, $"The content type is longer than {link.Limits.MaxContentTypeLength} bytes.");
        }

        // A RATE_LIMITED SEND stored nothing: the same message goes again after the delay the server asked for.
        var ack = await WaitingOutRateLimitAsync<Send, SendAck>(
            link,
            requestId => new Send(requestId, conversationId, id, contentType, content)
            {
                ThreadRootId = options?.ThreadRootId ?? Guid.Empty,
                Mentions = options?.Mentions ?? [],
                GroupMentions = options?.GroupMentions ?? GroupMentions.None,
                MembershipEpoch = options?.MembershipEpoch ?? 0,
                DistributionId = options?.DistributionId is { } chain ? chain.ToByteArray(bigEndian: true) : default,
            },
            cancellationToken).ConfigureAwait(false);
        return new SendResult(ack.MessageId, ack.Seq, DateTimeOffset.FromUnixTimeMilliseconds(ack.ServerTimeUnixMs));
    }

    /// <summary>Sends <paramref name="text"/> as UTF-8 <c>text/plain</c>; see <see cref="SendAsync(Guid, ReadOnlyMemory{byte}, string, Guid?, CancellationToken)"/>.</summary>
    /// <param name="conversationId">The channel, DM or group DM.</param>
    /// <param name="text">The text.</param>
    /// <param name="messageId">The idempotency key; a new UUIDv7 when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Stops waiting (the message may still be stored).</param>
    public Task<SendResult> SendTextAsync(Guid conversationId, string text, Guid? messageId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        return SendAsync(conversationId, Encoding.UTF8.GetBytes(text), ContentTypes.PlainText, messageId, cancellationToken);
    }

    /// <summary>
    /// Pages a conversation (HISTORY). <see cref="HistoryDirection.Before"/> returns the
    /// <paramref name="limit"/> messages just below <paramref name="fromSeq"/> (0 = the newest ones),
    /// <see cref="HistoryDirection.After"/> those just above it; either way oldest first.
    /// </summary>
    /// <param name="conversationId">The conversation.</param>
    /// <param name="fromSeq">The exclusive starting seq.</param>
    /// <param name="direction">Which way to page.</param>
    /// <param name="limit">1 to <see cref="ProtocolLimits.MaxHistoryLimit"/> (200) messages.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task<HistoryPageResult> GetHistoryAsync(
        Guid conversationId,
        ulong fromSeq,
        HistoryDirection direction,
        int limit = 50,
        CancellationToken cancellationToken = default) =>
        PageAsync(conversationId, Guid.Empty, fromSeq, direction, limit, cancellationToken);

    /// <summary>Pages one thread (HISTORY with a thread root): the root message and its replies, oldest first.</summary>
    /// <param name="conversationId">The conversation.</param>
    /// <param name="rootMessageId">The thread's root message.</param>
    /// <param name="fromSeq">The exclusive starting seq (0 with <see cref="HistoryDirection.After"/>: from the root).</param>
    /// <param name="direction">Which way to page.</param>
    /// <param name="limit">1 to 200 events.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task<HistoryPageResult> GetThreadAsync(
        Guid conversationId,
        Guid rootMessageId,
        ulong fromSeq = 0,
        HistoryDirection direction = HistoryDirection.After,
        int limit = 50,
        CancellationToken cancellationToken = default) =>
        PageAsync(conversationId, rootMessageId, fromSeq, direction, limit, cancellationToken);

    // HISTORY, of the whole conversation or (with a root) of one thread.
    private async Task<HistoryPageResult> PageAsync(Guid conversationId, Guid threadRootId, ulong fromSeq, HistoryDirection direction, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, Limits.MaxHistoryLimit);
        var page = await RequestAsync<History, HistoryPage>(
            link: null,
            requestId => new History(requestId, conversationId, fromSeq, direction, (uint)limit) { ThreadRootId = threadRootId },
            cancellationToken,
            timed: true).ConfigureAwait(false);
        return new HistoryPageResult(page.ConversationId, page.Events, page.HasMore);
    }

    /// <summary>Replaces the content of one of my messages (EDIT).</summary>
    /// <param name="conversationId">The message's conversation.</param>
    /// <param name="messageId">The message.</param>
    /// <param name="content">The new content.</param>
    /// <param name="contentType">Its media type.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <exception cref="ChatWireException"><c>NOT_FOUND</c> (no such message, or deleted), <c>FORBIDDEN</c> (not mine), <c>NOT_A_MEMBER</c>, …</exception>
    public Task<ChangeResult> EditAsync(Guid conversationId, Guid messageId, ReadOnlyMemory<byte> content, string contentType = ContentTypes.PlainText, CancellationToken cancellationToken = default) =>
        ChangeAsync(requestId => new Edit(requestId, conversationId, messageId, contentType, content), cancellationToken);

    /// <summary>Deletes a message (mine, or any in a channel of a team I administer): its content is erased, a tombstone stays.</summary>
    /// <param name="conversationId">The message's conversation.</param>
    /// <param name="messageId">The message.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The deletion's seq, or 0 when the message was already deleted.</returns>
    public Task<ChangeResult> DeleteAsync(Guid conversationId, Guid messageId, CancellationToken cancellationToken = default) =>
        ChangeAsync(requestId => new Delete(requestId, conversationId, messageId), cancellationToken);

    /// <summary>Adds (or with <paramref name="remove"/>, takes back) my reaction with an emoji; doing it twice changes nothing.</summary>
    /// <param name="conversationId">The message's conversation.</param>
    /// <param name="messageId">The message.</param>
    /// <param name="emoji">The emoji, e.g. 👍 or <c>:shipit:</c>.</param>
    /// <param name="remove">Take the reaction back.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The reaction event's seq, or 0 when it was already so.</returns>
    public Task<ChangeResult> ReactAsync(Guid conversationId, Guid messageId, string emoji, bool remove = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(emoji);
        return ChangeAsync(requestId => new React(requestId, conversationId, messageId, emoji, remove), cancellationToken);
    }

    /// <summary>
    /// Marks the conversation read up to <paramref name="seq"/> for all my devices (READ); each of them gets a
    /// <see cref="ReadStateChanged"/>. The position never moves back.
    /// </summary>
    /// <param name="conversationId">The conversation.</param>
    /// <param name="seq">Read up to here; <see cref="ulong.MaxValue"/> for everything so far.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The read position now in force, in <see cref="ChangeResult.Seq"/>.</returns>
    public Task<ChangeResult> MarkReadAsync(Guid conversationId, ulong seq = ulong.MaxValue, CancellationToken cancellationToken = default) =>
        ChangeAsync(requestId => new MarkRead(requestId, conversationId, seq), cancellationToken);

    /// <summary>Tells the other members that I am typing (TYPING). Send it when typing starts and at most every 3 seconds while it goes on.</summary>
    /// <param name="conversationId">Where I type.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public async Task TypingAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        await RequestAsync<Typing, Ok>(link: null, requestId => new Typing(requestId, conversationId), cancellationToken, timed: true).ConfigureAwait(false);

    /// <summary>Sets my status for all my devices (SET_STATUS): online, away or do not disturb.</summary>
    /// <param name="status">Not <see cref="PresenceStatus.Offline"/>.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public async Task SetStatusAsync(PresenceStatus status, CancellationToken cancellationToken = default)
    {
        if (status is PresenceStatus.Offline or > PresenceStatus.DoNotDisturb)
        {
            throw new ArgumentOutOfRangeException(nameof(status), status, "A status is online, away or do not disturb.");
        }

        await WaitingOutRateLimitAsync<SetStatus, Ok>(link: null, requestId => new SetStatus(requestId, status), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Watches the presence of these users (at most 200: the people on screen), replacing what was watched,
    /// and returns where each stands. From then on each change arrives as <see cref="PresenceChanged"/>; after a
    /// reconnect the same users are watched again, and their presence then is reported the same way.
    /// </summary>
    /// <param name="userIds">The users to watch; empty stops watching.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public async Task<IReadOnlyList<PresenceEntry>> WatchPresenceAsync(IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userIds);
        var users = userIds.ToArray();
        Volatile.Write(ref _watched, users);
        var answer = await WaitingOutRateLimitAsync<PresenceWatch, PresenceFrame>(link: null, requestId => new PresenceWatch(requestId, users), cancellationToken).ConfigureAwait(false);
        return answer.Entries;
    }

    private async Task<ChangeResult> ChangeAsync<TRequest>(Func<uint, TRequest> build, CancellationToken cancellationToken)
        where TRequest : struct, IFrame<TRequest>
    {
        var ok = await WaitingOutRateLimitAsync<TRequest, Ok>(link: null, build, cancellationToken).ConfigureAwait(false);
        return new ChangeResult(ok.Seq, DateTimeOffset.FromUnixTimeMilliseconds(ok.ServerTimeUnixMs));
    }

    // A request the server's sending rate counts (docs/protocol.md §3.2): RATE_LIMITED answers are waited out and the
    // request made again, on whatever link is up then, up to MaxRateLimitWait in all. The first try goes on link when
    // given (else the current one).
    private async Task<TReply> WaitingOutRateLimitAsync<TRequest, TReply>(FrameLink? link, Func<uint, TRequest> build, CancellationToken cancellationToken)
        where TRequest : struct, IFrame<TRequest>
    {
        var waited = TimeSpan.Zero;
        while (true)
        {
            try
            {
                return await RequestAsync<TRequest, TReply>(link, build, cancellationToken, timed: true).ConfigureAwait(false);
            }
            catch (ChatWireException ex) when (ex.Code == ErrorCode.RateLimited && ex.RetryAfter is { } after && waited + after <= _options.MaxRateLimitWait)
            {
                await Task.Delay(after, cancellationToken).ConfigureAwait(false);
                waited += after;
                link = null;
            }
        }
    }

    /// <summary>
    /// Every conversation the user belongs to, with the seq of its newest event (SYNC, all pages), ascending
    /// by conversation id.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    public async Task<IReadOnlyList<ConversationState>> GetConversationStatesAsync(CancellationToken cancellationToken = default) =>
        await SyncAllAsync(link: null, cancellationToken, timed: true).ConfigureAwait(false);

    /// <summary>
    /// Where each conversation's stream stands: the seq up to which every event was put in the buffer that
    /// <see cref="ReadEventsAsync"/> reads, whether the app has read it yet or not. To resume a later run exactly,
    /// store the seqs the app has processed instead (each stored event's <see cref="ChatWireEvent.Stored"/>) and
    /// pass them as <see cref="ChatWireConnectionOptions.ResumeWatermarks"/>; this snapshot may run ahead of them.
    /// </summary>
    public IReadOnlyDictionary<Guid, ulong> Watermarks => _streams.Snapshot();

    /// <summary>
    /// How many events wait in <see cref="ReadEventsAsync"/> for the app to read them (at most about
    /// <see cref="ChatWireConnectionOptions.EventBufferCapacity"/>).
    /// </summary>
    public int BufferedEventCount => _events.Count;

    /// <summary>Sends PING and waits for PONG.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The round-trip time.</returns>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        await RequestAsync<Ping, Pong>(link: null, requestId => new Ping(requestId), cancellationToken, timed: true).ConfigureAwait(false);
        return Stopwatch.GetElapsedTime(started);
    }

    /// <summary>
    /// Completes at the next KEYS_CHANGED this connection receives (this user's own keys changed: a device registered,
    /// approved or revoked, keys left for a device, a new history key, the account key; docs/protocol.md §4.28) and each time a
    /// link comes up, since a change may have passed while none was. To wait for something in the keys, take this task
    /// first, then check (over the HTTP API), then await it, so that a change in between is not missed;
    /// <see cref="Secure.SecureClient.WaitForApprovalAsync(ChatWireConnection, TimeSpan?, CancellationToken)"/> does
    /// that. Read by any number of callers, beside <see cref="ReadEventsAsync"/>, which reports the same pushes as
    /// <see cref="OwnKeysChanged"/>. Faults as requests do once the connection is closed for good.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task NextOwnKeysChangeAsync(CancellationToken cancellationToken = default) =>
        Volatile.Read(ref _ownKeys).Task.WaitAsync(cancellationToken);

    /// <summary>
    /// The connection's events: the stored ones (<see cref="MessageReceived"/>, <see cref="MembershipChanged"/>,
    /// <see cref="MessageEdited"/>, <see cref="MessageDeleted"/>, <see cref="ReactionChanged"/>) once each and in seq
    /// order per conversation; and as they come <see cref="ReadStateChanged"/>, <see cref="TypingStarted"/>,
    /// <see cref="PresenceChanged"/>, <see cref="ConnectionStateChanged"/>, <see cref="NoiseServerKeyRotated"/>,
    /// <see cref="OwnKeysChanged"/> and, after a reconnect's SYNC, <see cref="ConversationLeft"/>.
    /// Read by one consumer. The sequence ends when the connection is disposed; it ends by throwing when the
    /// server closed the session for good (a <see cref="ChatWireException"/> such as <c>SESSION_REVOKED</c>) or
    /// reconnecting gave up. Events wait in a buffer until read, up to about
    /// <see cref="ChatWireConnectionOptions.EventBufferCapacity"/>: an app that falls behind gets its conversations'
    /// later events from history once it reads again, in order and none lost.
    /// </summary>
    /// <param name="cancellationToken">Stops the enumeration (not the connection).</param>
    public async IAsyncEnumerable<ChatWireEvent> ReadEventsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var reader = _events.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (reader.TryRead(out var item))
            {
                _events.OnRead();
                yield return item;

                // Back from the app: it has this event, so the device cursor (RECEIVED) may pass it.
                if (item.Stored is { } e)
                {
                    _consumed.AddOrUpdate(e.ConversationId, e.Seq, (_, seen) => Math.Max(seen, e.Seq));
                }
            }
        }
    }

    /// <summary>Closes the connection: pending requests fail, the event stream ends after a <see cref="ConnectionState.Closed"/> event.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _lifetime.CancelAsync().ConfigureAwait(false);
        FrameLink? link;
        lock (_stateLock)
        {
            link = _link;
        }

        link?.Abort(new ObjectDisposedException(nameof(ChatWireConnection)));
        try
        {
            await _supervisor.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The supervisor stops by cancellation.
        }

        if (link is not null)
        {
            await link.DisposeAsync().ConfigureAwait(false);
        }

        FailPending(new ObjectDisposedException(nameof(ChatWireConnection)));
        Close(error: null);
        _lifetime.Dispose();
    }

    private static TaskCompletionSource<FrameLink> NewLinkSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Request ids count up from 1 and skip 0, which the protocol reserves for events.
    private uint NextRequestId()
    {
        while (true)
        {
            var id = unchecked((uint)Interlocked.Increment(ref _nextRequestId));
            if (id != 0)
            {
                return id;
            }
        }
    }

    // One request and its answer. The app's own calls are timed (RequestTimeout); the connection's own requests on a
    // link (catch-up, acknowledgements, re-watching) live as long as the link and end with it.
    private async Task<TReply> RequestAsync<TRequest, TReply>(FrameLink? link, Func<uint, TRequest> build, CancellationToken cancellationToken, bool timed = false)
        where TRequest : struct, IFrame<TRequest>
    {
        link ??= await WaitForLinkAsync(cancellationToken).ConfigureAwait(false);
        var requestId = NextRequestId();
        var reply = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[requestId] = reply;
        try
        {
            // A drop marks the link closed before it fails the pending requests, so a request registered
            // after that sweep sees the mark here and cannot wait forever.
            if (link.IsClosed)
            {
                throw LinkLost(link.AbortReason);
            }

            await link.WriteAsync(build(requestId), cancellationToken).ConfigureAwait(false);
            var timeout = timed ? _options.RequestTimeout : Timeout.InfiniteTimeSpan;
            object answer;
            try
            {
                answer = await reply.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException) when (!reply.Task.IsCompleted)
            {
                throw new TimeoutException(
                    $"The server did not answer {Opcodes.Name(TRequest.Opcode)} within {timeout.TotalSeconds:0.###} s (RequestTimeout); the connection stays up."
                    + (TRequest.Opcode == Opcode.Send ? " The message may have been stored: send it again with the same message id." : ""));
            }

            return answer is TReply typed
                ? typed
                : throw new ChatWireException(ErrorCode.MalformedFrame, $"The server answered {TRequest.Opcode} with {answer.GetType().Name}.");
        }
        finally
        {
            _pending.TryRemove(requestId, out _);
        }
    }

    private async ValueTask<FrameLink> WaitForLinkAsync(CancellationToken cancellationToken)
    {
        Task<FrameLink> ready;
        lock (_stateLock)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            if (_state == ConnectionState.Closed)
            {
                throw ClosedException(_closeError);
            }

            if (_link is { IsClosed: false } current)
            {
                return current;
            }

            ready = _linkReady.Task;
        }

        return await ready.WaitAsync(cancellationToken).ConfigureAwait(false);
    }
}
