using System.Buffers;
using System.IO.Pipelines;
using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Conversations;
using ChatWire.Gateway.Delivery;
using ChatWire.Gateway.Transport;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Storage.Messages;
using Microsoft.AspNetCore.Connections;
using MessagePack;

namespace ChatWire.Gateway.Connections;

internal enum ProtocolState
{
    AwaitingHello = 0,
    AwaitingAuth = 1,
    Authenticated = 2,
    Closed = 3,
}

/// <summary>
/// One protocol connection (docs/protocol.md §5): it decodes frames, hands commands to the conversation
/// service, writes the answers, and is a delivery target for the fan-out. Idle, it holds no buffer
/// (Kestrel's zero-byte reads), no timer and no task beyond its pending read: deadlines are checked by the
/// shared <see cref="ConnectionSweeper"/> from the tick stamps kept here. ("Session" is the device's login,
/// <see cref="SessionIdentity"/>; a device may hold several connections at once.)
/// </summary>
internal sealed partial class ProtocolConnection : IDeliveryTarget
{
    private readonly ConnectionContext _connection;
    private readonly ConnectionServices _services;
    private readonly long _openedAt;
    private volatile ProtocolState _state;
    private long _lastReceivedAt;
    private long _partialFrameSince;
    private long _lastPingSentAt;
    private long _sessionExpiresAt = long.MaxValue;
    private int _sendsInFlight;
    private bool _countedPresent;
    private long _sendBytesInFlight;

    /// <summary>How often an open connection marks its session as used (keeping its idle expiry away).</summary>
    private const long SessionTouchIntervalMs = 6 * 60 * 60 * 1000;

    /// <summary>The longest the read loop pauses after a RATE_LIMITED answer (docs/protocol.md §3.2).</summary>
    private const uint MaxRateLimitPauseMs = 1000;

    // The pause after a rate-limit refusal: its delay (at most a second) and two milliseconds more, since the timer
    // counts whole milliseconds and may fire early by up to one, and a frame read before the bucket has refilled
    // would be refused again for the last millisecond.
    private static Task PauseAfterRefusalAsync(uint retryAfterMs) => Task.Delay((int)Math.Min(retryAfterMs, MaxRateLimitPauseMs) + 2);

    /// <summary>How long a connection the server closed may take to drain before it is aborted.</summary>
    public const int CloseGraceMs = 2_000;

    /// <summary>How long answers still owed to a peer that half-closed may take to be committed and sent.</summary>
    public const int HalfCloseGraceMs = 10_000;

    public ProtocolConnection(ConnectionContext connection, ConnectionServices services)
    {
        _connection = connection;
        _services = services;
        ConnectionId = Guid.CreateVersion7();
        _openedAt = _lastReceivedAt = Environment.TickCount64;
    }

    public Guid ConnectionId { get; }

    // Read from the connection each time rather than kept: two fields fewer in every idle session.
    private PipeReader Input => _connection.Transport.Input;

    private LeanReader LeanInput => (LeanReader)Input;

    public SessionIdentity? Identity { get; private set; }

    /// <inheritdoc/>
    public Guid UserId => Identity!.UserId;

    /// <inheritdoc/>
    public Guid DeviceId => Identity!.DeviceId;

    /// <summary>Content bytes a HISTORY_PAGE may carry: the frame limit less room for its own fields.</summary>
    public int MaxPageBytes => (int)_services.Limits.MaxFrameLength - 1024;

    private uint FrameLimit => _state == ProtocolState.Authenticated ? _services.Limits.MaxFrameLength : _services.Limits.MaxPreAuthFrameLength;

    // An idle connection is one suspended state machine: its read loop's, waiting for bytes. What the loop keeps
    // across its awaits is kept per idle connection, so it keeps little: what a read brings is handled in
    // HandleReadAsync, whose state exists only while a frame's handling waits, and the close is CloseAsync's.
    public Task RunAsync()
    {
        _services.Metrics.Unauthenticated.Inc();
        return Input is LeanReader ? RunLeanAsync() : RunPipeAsync();
    }

    // The lean transport's two-step read: suspended in ReadReadyAsync, the loop keeps a ValueTask<bool>, not the
    // 48-byte ValueTask<ReadResult> a ReadAsync would leave in every idle session (nor the reader: it is read from
    // the connection each time). All exceptions are caught, so the close after the try runs whatever happened, as
    // a finally would, without keeping a finally's state.
    private async Task RunLeanAsync()
    {
        try
        {
            while (await LeanInput.ReadReadyAsync() && await HandleReadAsync(LeanInput.TakeResult()))
            {
            }
        }
        catch (Exception ex)
        {
            OnReadLoopFault(ex);
        }

        await CloseAsync();
    }

    // Any other input (Kestrel's socket transport, TLS, Noise, a test's pipe).
    private async Task RunPipeAsync()
    {
        try
        {
            while (await HandleReadAsync(await Input.ReadAsync()))
            {
            }
        }
        catch (Exception ex)
        {
            OnReadLoopFault(ex);
        }

        await CloseAsync();
    }

    private void OnReadLoopFault(Exception ex)
    {
        // The peer went away or the transport was aborted: nothing to answer; anything else is a fault.
        if (ex is not (IOException or ConnectionResetException or ConnectionAbortedException or OperationCanceledException))
        {
            GatewayLog.ConnectionFault(_services.Logger, ConnectionId, ex);
        }
    }

    // After the read loop: out of the fan-out and presence, a last flush given its grace, then retired. A method of
    // its own so the read loop's suspended state (kept by every idle session) holds none of this.
    private async Task CloseAsync()
    {
        // The peer half-closed (or went) while SENDs it pipelined wait for their commit, or while answers wait
        // behind a flush: a client that shuts its sending side after its last request still reads the answers, so
        // they are given a bounded moment to be answered and sent. Every other request was answered before the
        // next frame was read.
        if (!IsClosing && (Volatile.Read(ref _sendsInFlight) > 0 || PendingFlush() is not null))
        {
            await AwaitAnswersSentAsync();
        }

        var wasAuthenticated = _state == ProtocolState.Authenticated;
        _state = ProtocolState.Closed;
        var pendingFlush = MarkClosed();
        (wasAuthenticated ? _services.Metrics.Authenticated : _services.Metrics.Unauthenticated).Dec();
        if (wasAuthenticated)
        {
            _services.Fanout.Unregister(this);
        }

        if (_countedPresent)
        {
            _services.Presence.Disconnected(this);
        }

        if (pendingFlush is not null)
        {
            await FlushLastAsync(pendingFlush);
        }

        FinishClose();

        _services.Registry.Retire(this, closedByPeer: !IsClosing);
    }

    private async Task AwaitAnswersSentAsync()
    {
        // Longer than the close grace: a commit may wait behind a busy store's batch.
        var grace = Task.Delay(HalfCloseGraceMs);
        while (Volatile.Read(ref _sendsInFlight) > 0 && !IsClosing && !grace.IsCompleted)
        {
            await Task.Delay(5);
        }

        // An answer written while a flush was under way waits in the backlog for a flush of its own. Each flush is
        // waited on once: one that is still named pending after it completed has nothing more to send.
        Task? waited = null;
        while (!IsClosing && PendingFlush() is { } flush && !ReferenceEquals(flush, waited) && await Task.WhenAny(flush, grace) == flush)
        {
            waited = flush;
        }
    }

    // The frames one read brought; false when the connection is done reading.
    private async ValueTask<bool> HandleReadAsync(ReadResult result)
    {
        if (result.IsCanceled || IsClosing)
        {
            return false;
        }

        var buffer = result.Buffer;
        var now = Environment.TickCount64;
        _lastReceivedAt = now;

        // The SENDs of one read go to the group commit together: the writer is woken once a run of them is queued,
        // not at the first, which would commit it alone and the rest after. The cork is released before any other
        // frame (a HISTORY may read the store synchronously) and before the loop waits for anything.
        var cork = default(AppendCork.Scope);
        try
        {
            while (!IsClosing && FrameReader.TryReadFrame(ref buffer, FrameLimit, out var body))
            {
                _partialFrameSince = 0;
                if (IsSend(body))
                {
                    cork = cork.IsHeld ? cork : AppendCork.Cork();
                }
                else
                {
                    cork.Dispose();
                    cork = default;
                }

                var handled = HandleFrameAsync(body);
                if (!handled.IsCompletedSuccessfully)
                {
                    // The cork belongs to this thread, and the loop may go on on another: none is kept across.
                    cork.Dispose();
                    cork = default;
                    await handled;
                }
            }
        }
        catch (ProtocolException ex)
        {
            // Only the framing throws here (FRAME_TOO_LARGE): the stream can no longer be trusted.
            CloseWithError(ex.Code, ex.Message, ex.RequestId);
        }
        finally
        {
            cork.Dispose();
        }

        if (buffer.IsEmpty)
        {
            _partialFrameSince = 0;
        }
        else if (_partialFrameSince == 0)
        {
            _partialFrameSince = now;
        }

        Input.AdvanceTo(buffer.Start, buffer.End);
        return !result.IsCompleted && !IsClosing;
    }

    // Read from the first bytes without decoding. A frame that only looks like a SEND keeps the cork over its
    // error answer, and one whose first bytes straddle two buffer segments reads as not a SEND: either only
    // moves the writer's wake-up.
    private static bool IsSend(in ReadOnlySequence<byte> body) => FrameCodec.PeekBodyOpcode(body.FirstSpan) == Opcode.Send;

    // A last ERROR may still be on its way out, possibly behind a flush under way (then it follows from the
    // backlog in a flush of its own); give it a bounded moment, never an unbounded one.
    private async Task FlushLastAsync(Task? pendingFlush)
    {
        var grace = Task.Delay(CloseGraceMs);
        while (pendingFlush is not null && await Task.WhenAny(pendingFlush, grace) == pendingFlush)
        {
            var next = PendingFlush();
            pendingFlush = ReferenceEquals(next, pendingFlush) ? null : next;
        }
    }

    private async ValueTask HandleFrameAsync(ReadOnlySequence<byte> body)
    {
        try
        {
            await DispatchAsync(body);
        }
        catch (ProtocolException ex)
        {
            // A malformed body leaves the framing intact: after AUTH the request fails, the connection
            // stays. Before AUTH nothing about the peer is trusted yet, so it closes (docs/protocol.md §5).
            if (_state != ProtocolState.Authenticated || ErrorCodes.ClosesConnection(ex.Code))
            {
                CloseWithError(ex.Code, ex.Message, ex.RequestId);
            }
            else
            {
                SendError(ex.RequestId, ex.Code, ex.Message);
            }
        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or OperationCanceledException or ObjectDisposedException))
        {
            // A fault no handler expected (a bug): this request fails with INTERNAL_ERROR and the connection goes
            // on, as docs/protocol.md promises for any request; before AUTH it closes, as every error there does.
            // The frame is still in the input buffer (it is released after this returns), so its id can be read.
            GatewayLog.ConnectionFault(_services.Logger, ConnectionId, ex);
            var requestId = RequestIdOf(body);
            if (_state != ProtocolState.Authenticated)
            {
                CloseWithError(ErrorCode.InternalError, "The server failed to handle this request.", requestId);
            }
            else
            {
                SendError(requestId, ErrorCode.InternalError, "The server failed to handle this request; it may be retried.");
            }
        }
    }

    // The request id of a frame whose header was read once already (0 if it somehow cannot be read again).
    private static uint RequestIdOf(ReadOnlySequence<byte> body)
    {
        try
        {
            var reader = new MessagePackReader(body);
            return FrameCodec.ReadHeader(ref reader).RequestId;
        }
        catch (ProtocolException)
        {
            return 0;
        }
    }

    private ValueTask DispatchAsync(ReadOnlySequence<byte> body)
    {
        var reader = new MessagePackReader(body);
        var header = FrameCodec.ReadHeader(ref reader);
        if (!header.IsKnown)
        {
            _services.Metrics.UnknownFrameIn();
            return _state == ProtocolState.Authenticated
                ? Fail(header.RequestId, ErrorCode.UnknownOpcode, $"Unknown opcode {header.OpcodeValue}.")
                : Fail(header.RequestId, ErrorCode.NotAuthenticated, "HELLO and AUTH must come first.");
        }

        _services.Metrics.FrameIn(header);
        var limits = _services.Limits;
        switch (_state, header.Opcode)
        {
            case (_, Opcode.Ping):
                var ping = FrameCodec.ReadBody<Ping>(ref reader, header, limits);
                Send(new Pong(ping.RequestId));
                return default;
            case (_, Opcode.Pong):
                _ = FrameCodec.ReadBody<Pong>(ref reader, header, limits);
                return default;
            case (ProtocolState.AwaitingHello, Opcode.Hello):
                OnHello(FrameCodec.ReadBody<Hello>(ref reader, header, limits));
                return default;
            case (ProtocolState.AwaitingAuth, Opcode.Auth):
                return OnAuthAsync(FrameCodec.ReadBody<Auth>(ref reader, header, limits));
            case (ProtocolState.AwaitingHello, _):
                return Fail(header.RequestId, ErrorCode.NotAuthenticated, $"{Opcodes.Name(header.Opcode)} before HELLO: HELLO, then AUTH, must come first.");
            case (ProtocolState.AwaitingAuth, Opcode.Hello):
                return Fail(header.RequestId, ErrorCode.NotAuthenticated, "A second HELLO: AUTH must come next.");
            case (ProtocolState.AwaitingAuth, _):
                return Fail(header.RequestId, ErrorCode.NotAuthenticated, $"{Opcodes.Name(header.Opcode)} before AUTH: HELLO and AUTH must come first.");
            case (ProtocolState.Authenticated, Opcode.Send):
                return OnSendAsync(FrameCodec.ReadBody<Send>(ref reader, header, limits));
            case (ProtocolState.Authenticated, Opcode.History):
                return OnHistoryAsync(FrameCodec.ReadBody<History>(ref reader, header, limits));
            case (ProtocolState.Authenticated, Opcode.Sync):
                return OnSyncAsync(FrameCodec.ReadBody<Sync>(ref reader, header, limits));
            case (ProtocolState.Authenticated, Opcode.Edit):
                return OnChange<Edit>(ref reader, header, static (c, actor, frame) => c._services.Conversations.EditAsync(actor, frame));
            case (ProtocolState.Authenticated, Opcode.Delete):
                return OnChange<Delete>(ref reader, header, static (c, actor, frame) => c._services.Conversations.DeleteAsync(actor, frame));
            case (ProtocolState.Authenticated, Opcode.React):
                return OnChange<React>(ref reader, header, static (c, actor, frame) => c._services.Conversations.ReactAsync(actor, frame));
            case (ProtocolState.Authenticated, Opcode.Read):
                return OnChange<MarkRead>(ref reader, header, static (c, actor, frame) => c._services.Conversations.MarkReadAsync(actor, frame));
            case (ProtocolState.Authenticated, Opcode.Typing):
                return OnChange<Typing>(ref reader, header, static (c, actor, frame) => c._services.Conversations.TypingAsync(actor, frame));
            case (ProtocolState.Authenticated, Opcode.SetStatus):
                return OnChange<SetStatus>(ref reader, header, static (c, actor, frame) => c.SetStatusAsync(actor, frame));
            case (ProtocolState.Authenticated, Opcode.Received):
                return OnChange<Received>(ref reader, header, static (c, actor, frame) => c._services.Conversations.MarkReceivedAsync(actor, frame));
            case (ProtocolState.Authenticated, Opcode.PresenceWatch):
                return OnPresenceWatchAsync(FrameCodec.ReadBody<PresenceWatch>(ref reader, header, limits));
            case (ProtocolState.Authenticated, Opcode.Hello or Opcode.Auth):
                return Fail(header.RequestId, ErrorCode.InvalidState, $"{Opcodes.Name(header.Opcode)} is only valid once, at the start of a connection.");
            default:
                return Fail(header.RequestId, ErrorCode.InvalidState, $"{Opcodes.Name(header.Opcode)} is sent by the server, not by clients.");
        }
    }

    private static ValueTask Fail(uint requestId, ErrorCode code, string message) =>
        ValueTask.FromException(new ProtocolException(code, message, requestId));

    private void OnHello(Hello hello)
    {
        if (hello.ProtocolVersion < ProtocolLimits.CurrentVersion)
        {
            throw new ProtocolException(ErrorCode.UnsupportedVersion, $"This server speaks protocol version {ProtocolLimits.CurrentVersion}; the client offered {hello.ProtocolVersion}.", hello.RequestId);
        }

        _state = ProtocolState.AwaitingAuth;
        var options = _services.Options;
        Send(new Welcome(
            hello.RequestId,
            ProtocolLimits.CurrentVersion,
            _services.Limits.MaxFrameLength,
            (uint)_services.Limits.MaxContentLength,
            (uint)options.HeartbeatIntervalMs,
            (uint)options.AuthDeadlineMs,
            _services.Time.GetUtcNow().ToUnixTimeMilliseconds()));
    }

    private async ValueTask OnAuthAsync(Auth auth)
    {
        // An address that has had too many tokens refused is answered before its next one reaches the store.
        var refusedTokens = _services.RefusedTokens;
        var address = refusedTokens.KeyOf(_connection.RemoteEndPoint);
        if (refusedTokens.RefusedBeforeLookup(address) is { } spent)
        {
            CloseWithError(
                ErrorCode.RateLimited,
                "Too many refused session tokens from this address; retry after retry_after_ms.",
                auth.RequestId,
                spent.RetryAfterMilliseconds);
            return;
        }

        SessionIdentity? identity;
        ErrorCode error;
        try
        {
            (identity, error) = await _services.Authenticator.AuthenticateAsync(auth.SessionToken, auth.DeviceId, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.ConnectionFault(_services.Logger, ConnectionId, ex);
            CloseWithError(ErrorCode.StorageUnavailable, "Sessions cannot be checked right now; retry shortly.", auth.RequestId);
            return;
        }

        if (identity is null)
        {
            refusedTokens.Charge(address);
            CloseWithError(error, SessionAuthenticator.Describe(error), auth.RequestId);
            return;
        }

        Identity = identity;
        var untilExpiry = identity.ExpiresAt - _services.Time.GetUtcNow();
        _sessionExpiresAt = Environment.TickCount64 + (long)Math.Clamp(untilExpiry.TotalMilliseconds, 0, long.MaxValue / 4);
        _state = ProtocolState.Authenticated;
        _services.Metrics.Unauthenticated.Dec();
        _services.Metrics.Authenticated.Inc();

        // Register for delivery before AUTH_OK is sent, holding output meanwhile: an event stored while
        // the connection registers is then neither lost nor sent ahead of AUTH_OK.
        HoldOutput();
        bool registered;
        try
        {
            registered = await _services.Fanout.RegisterAsync(this);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.ConnectionFault(_services.Logger, ConnectionId, ex);
            CloseWithError(ErrorCode.StorageUnavailable, "The connection could not be set up; retry shortly.", auth.RequestId);
            return;
        }

        if (!registered)
        {
            _services.Metrics.Rejected.WithLabels("per-user connection cap").Inc();
            CloseWithError(
                ErrorCode.TooManyConnections,
                $"This account already holds {_services.Options.MaxConnectionsPerUser} connections on this server (Gateway:MaxConnectionsPerUser); close one first.",
                auth.RequestId);
            return;
        }

        ReleaseHeld(new AuthOk(auth.RequestId, identity.UserId, identity.DeviceId));
        _services.Presence.Connected(this);
        _countedPresent = true;

        // A revocation committed after the token check but before this connection could hear about it would
        // otherwise be missed; the store is revoked before the event is published, so this read sees it.
        bool stillValid;
        try
        {
            stillValid = await _services.Authenticator.IsStillValidAsync(identity, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.ConnectionFault(_services.Logger, ConnectionId, ex);
            CloseWithError(ErrorCode.StorageUnavailable, "Sessions cannot be checked right now; retry shortly.");
            return;
        }

        if (!stillValid)
        {
            CloseWithError(ErrorCode.SessionRevoked, "This device's session was revoked.");
        }
    }

    private async ValueTask OnSendAsync(Send send)
    {
        // Awaited before the next frame is read: this connection's SENDs are queued in the order they came.
        var commit = await _services.Conversations.SubmitSendAsync(Identity!, send);
        if (commit.IsCompleted)
        {
            var refused = commit.Result;
            Answer(send, refused);
            if (refused.RetryAfterMs is { } retryAfter)
            {
                // Over the sending rate: nothing more is read from this connection until the delay has passed
                // (at most a second), so a flood costs the server a frame per delay, not a frame per packet,
                // and TCP flow control pushes back on the sender.
                await PauseAfterRefusalAsync(retryAfter);
                _lastReceivedAt = Environment.TickCount64;
            }

            return;
        }

        // SENDs are pipelined: the next frame is read while this one waits for its group commit. Past
        // MaxSendsInFlight, or MaxSendBytesInFlight of content, the read loop waits too, which is the
        // per-connection backpressure. A slot is freed when the SEND is answered; delivery to other devices
        // is the publisher's work, not this one's.
        var inFlight = Interlocked.Increment(ref _sendsInFlight);
        var bytesInFlight = Interlocked.Add(ref _sendBytesInFlight, send.Content.Length);
        var answered = AnswerWhenCommittedAsync(send, commit);
        if (inFlight >= _services.Options.MaxSendsInFlight || bytesInFlight >= _services.Options.MaxSendBytesInFlight)
        {
            await answered;

            // The peer was not silent; the read loop was waiting on the store.
            _lastReceivedAt = Environment.TickCount64;
        }
    }

    private async Task AnswerWhenCommittedAsync(Send send, Task<SendOutcome> commit)
    {
        // The service turns every failure into an outcome: this await does not throw.
        var outcome = await commit;
        Answer(send, outcome);
        Interlocked.Add(ref _sendBytesInFlight, -send.Content.Length);
        Interlocked.Decrement(ref _sendsInFlight);
    }

    private void Answer(in Send send, in SendOutcome outcome)
    {
        if (outcome.Error is { } code)
        {
            SendError(send.RequestId, code, outcome.Message!, outcome.RetryAfterMs ?? 0);
        }
        else
        {
            Send(new SendAck(send.RequestId, send.ConversationId, send.MessageId, outcome.Seq, outcome.ServerTimeUnixMs));
        }
    }

    // HISTORY and SYNC read the store in turn with the user's other reads on this node (ReadGate).
    private async ValueTask OnHistoryAsync(History history)
    {
        try
        {
            HistoryPage page;
            using (await _services.Reads.EnterAsync(Identity!.UserId))
            {
                page = await _services.Conversations.ReadHistoryAsync(Identity!, history, MaxPageBytes);
            }

            Send(page);
        }
        catch (RequestRefusedException ex)
        {
            SendError(history.RequestId, ex.Code, ex.Message);
        }
    }

    private async ValueTask OnSyncAsync(Sync sync)
    {
        try
        {
            SyncPage page;
            using (await _services.Reads.EnterAsync(Identity!.UserId))
            {
                page = await _services.Conversations.SyncAsync(Identity!, sync);
            }

            Send(page);
        }
        catch (RequestRefusedException ex)
        {
            SendError(sync.RequestId, ex.Code, ex.Message);
        }
    }

    // Reads a change's frame and runs its command; see OnChangeAsync. The command is a static lambda given the
    // connection: a method group of an instance would be a new delegate per frame (64 B, unless the JIT's
    // escape analysis happens to remove it, which it does not before the method's optimized tier).
    private ValueTask OnChange<T>(ref MessagePackReader reader, in FrameHeader header, Func<ProtocolConnection, SessionIdentity, T, Task<ChangeOutcome>> command)
        where T : struct, IFrame<T>
    {
        var frame = FrameCodec.ReadBody<T>(ref reader, header, _services.Limits);
        return OnChangeAsync(frame.RequestId, command(this, Identity!, frame));
    }

    // A change is answered when it is stored, like a SEND, but not pipelined: changes are rare, and the
    // next frame is read once this one is answered.
    private async ValueTask OnChangeAsync(uint requestId, Task<ChangeOutcome> change)
    {
        try
        {
            var outcome = await change;
            Send(new Ok(requestId, outcome.Seq, outcome.ServerTimeUnixMs));
        }
        catch (RequestRefusedException ex)
        {
            SendError(requestId, ex.Code, ex.Message, ex.RetryAfterMs);
            if (ex.RetryAfterMs > 0)
            {
                await PauseAfterRefusalAsync(ex.RetryAfterMs);
                _lastReceivedAt = Environment.TickCount64;
            }
        }
    }

    // Counted against the sending rate like a change: a status change notifies every watcher.
    private Task<ChangeOutcome> SetStatusAsync(SessionIdentity actor, SetStatus status)
    {
        try
        {
            _services.Conversations.TakeRate(actor, 0);
        }
        catch (RequestRefusedException ex)
        {
            return Task.FromException<ChangeOutcome>(ex);
        }

        _services.Presence.SetStatus(actor.UserId, status.Status);
        return Task.FromResult(default(ChangeOutcome));
    }

    private async ValueTask OnPresenceWatchAsync(PresenceWatch watch)
    {
        try
        {
            // A watch costs a directory query over up to 200 users: it counts against the sending rate.
            _services.Conversations.TakeRate(Identity!, 0);
            Send(new PresenceFrame(watch.RequestId, await _services.Presence.WatchAsync(this, watch.UserIds, CancellationToken.None)));
        }
        catch (RequestRefusedException ex)
        {
            SendError(watch.RequestId, ex.Code, ex.Message, ex.RetryAfterMs);

            // Like any RATE_LIMITED answer: nothing more is read until the delay has passed (docs/protocol.md §3.2).
            if (ex.RetryAfterMs > 0)
            {
                await PauseAfterRefusalAsync(ex.RetryAfterMs);
                _lastReceivedAt = Environment.TickCount64;
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.StoreFailed(_services.Logger, ex);
            _services.Metrics.StoreFailed();
            SendError(watch.RequestId, ErrorCode.StorageUnavailable, "Presence could not be looked up; retry.");
        }
    }

    /// <inheritdoc/>
    public void Deliver(ReadOnlySpan<byte> frame)
    {
        var opcode = FrameCodec.PeekOpcode(frame);
        if (DeliveryFrames.IsEphemeral(opcode))
        {
            SendEphemeral(frame, opcode);
        }
        else
        {
            SendEncoded(frame, opcode);
        }
    }

    /// <inheritdoc/>
    public void Revoke() => CloseWithError(ErrorCode.SessionRevoked, "This device's session was revoked.");

    /// <summary>Called by the shared sweep; closes or pings according to the tick stamps.</summary>
    public void CheckDeadlines(long now)
    {
        var options = _services.Options;
        if (_state == ProtocolState.Closed || IsClosing)
        {
            return;
        }

        if (CheckOutboundGrace(now))
        {
            return;
        }

        // Set at AUTH; long.MaxValue before.
        if (now >= _sessionExpiresAt)
        {
            CloseWithError(ErrorCode.SessionExpired, "The session has reached its maximum age; log in again.");
            return;
        }

        // Once per touch interval of the connection's life, at the sweep tick that enters the next interval
        // (no field kept for it: an idle connection's memory counts).
        var open = now - _openedAt;
        if (_state == ProtocolState.Authenticated && open >= SessionTouchIntervalMs && open % SessionTouchIntervalMs < options.SweepIntervalMs)
        {
            _ = TouchSessionAsync();
        }

        if (_state != ProtocolState.Authenticated && now - _openedAt > options.AuthDeadlineMs)
        {
            CloseWithError(ErrorCode.AuthTimeout, $"No successful AUTH within {options.AuthDeadlineMs} ms.");
        }
        else if (_partialFrameSince != 0 && now - _partialFrameSince > options.FrameTimeoutMs)
        {
            CloseWithError(ErrorCode.FrameTimeout, $"A frame did not complete within {options.FrameTimeoutMs} ms.");
        }
        else if (now - _lastReceivedAt > 2L * options.HeartbeatIntervalMs)
        {
            CloseWithError(ErrorCode.HeartbeatTimeout, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"Nothing received for {2L * options.HeartbeatIntervalMs / 1000.0:0.###} s."));
        }
        else if (now - _lastReceivedAt > options.HeartbeatIntervalMs && now - _lastPingSentAt > options.HeartbeatIntervalMs)
        {
            _lastPingSentAt = now;
            Send(new Ping(0));
        }
    }

    // Fire and forget from the sweep: a failed touch is logged, and the next one comes in a few hours.
    private async Task TouchSessionAsync()
    {
        try
        {
            await _services.Authenticator.TouchAsync(Identity!, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.ConnectionFault(_services.Logger, ConnectionId, ex);
        }
    }

    public void Abort(string reason) => _connection.Abort(new ConnectionAbortedException(reason));

    /// <summary>Aborts the transport unless it has already closed (a peer that stopped reading cannot hold it open).</summary>
    public void AbortIfOpen()
    {
        try
        {
            if (!_connection.ConnectionClosed.IsCancellationRequested)
            {
                Abort("close grace expired");
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The transport is already gone (disposed token source, closed socket): nothing left to abort.
        }
    }
}
