using ChatWire.Client.Secure;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Storage.Messages;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// An encrypted message whose SEND_ACK never reached the sender (stored, then the call gave up) and is sent again with
// the same id: the SDK resends the first attempt's envelope, so the server answers with the original seq and stores
// it once. A fresh encryption would carry other bytes and get IDEMPOTENCY_CONFLICT.
public sealed class SecureResendTests : IDisposable
{
    private readonly string _keyDirectory = Path.Combine(Path.GetTempPath(), "chatwire-e2e-resend-" + Guid.NewGuid().ToString("N"));
    private readonly List<IDisposable> _owned = [];

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task EncryptedSend_AckLost_ResentWithTheSameId_GetsTheOriginalSeq_StoredOnce(bool appRestartedBeforeTheResend, bool aFile)
    {
        var gate = new AckGate();
        // EnqueueAsync's result for the held id passes through the gate; every other call goes straight through. The
        // proxy returns the ValueTask boxed, as the caller's interface call expects; it is awaited once there.
#pragma warning disable CA2012
        await using var server = await TestServer.StartAsync(replaceServices: services => MessageStoreProxy.Replace(services, (store, method, args) =>
            method.Name == nameof(IMessageStore.EnqueueAsync) && args[0] is NewEvent held && gate.Holds(held.EventId)
                ? gate.EnqueueAsync(store, held, (CancellationToken)args[1]!)
                : null));
#pragma warning restore CA2012
        var (alice, aliceSecure) = await NewDeviceAsync(server);
        var (bob, bobSecure) = await NewDeviceAsync(server);
        var (teamId, general) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        await using var connection = await Sdk.ConnectAsync(alice);
        await aliceSecure.SendTextAsync(connection, general, "first, so the chain is distributed");

        // The SEND is stored; its acknowledgement is held until the sender has given up waiting.
        var id = Guid.CreateVersion7();
        gate.Hold(id);
        using var giveUp = new CancellationTokenSource();
        // A file resent is not uploaded again: its first attempt's envelope names the attachment uploaded then.
        async Task<SendResult> Send(SecureClient secure, string text, CancellationToken cancellationToken = default) => aFile
            ? (await secure.SendFileAsync(connection, general, "notes.txt", System.Text.Encoding.UTF8.GetBytes(text), "text/plain", id, cancellationToken)).Send.Sent
            : (await secure.SendTextAsync(connection, general, text, id, cancellationToken: cancellationToken)).Sent;
        var lost = Send(aliceSecure, "sent once", giveUp.Token);
        var storedSeq = await gate.Stored.Task.WaitAsync(Patience.Default);
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => lost);
        gate.Release();
        if (appRestartedBeforeTheResend)
        {
            // A new process of the app: the envelope kept is the one on disk.
            aliceSecure.Dispose();
            aliceSecure = Reopen(server, alice);
        }

        var resent = await Send(aliceSecure, "sent once").WaitAsync(Patience.Default);
        var different = await Assert.ThrowsAsync<ChatWireException>(() => Send(aliceSecure, "another text, same id"));
        await using var reader = await Sdk.ConnectAsync(bob);
        var page = await reader.GetHistoryAsync(general, 0, HistoryDirection.Before, 50);

        Assert.Equal((id, storedSeq), (resent.MessageId, resent.Seq));
        Assert.Equal(ErrorCode.IdempotencyConflict, different.Code);
        var stored = Assert.Single(Sdk.Messages(page), m => m.EventId == id);
        if (aFile)
        {
            var (attachment, content) = await bobSecure.DownloadFileAsync(stored);
            Assert.Equal(("notes.txt", "sent once"), (attachment.FileName, System.Text.Encoding.UTF8.GetString(content)));
        }
        else
        {
            Assert.Equal("sent once", (await bobSecure.DecryptAsync(stored)).Text);
        }
    }

    [Fact]
    public async Task EncryptedThreadReply_SentAsText_IsSealedAsAThreadReply()
    {
        await using var server = await TestServer.StartAsync();
        var (alice, aliceSecure) = await NewDeviceAsync(server);
        var (bob, bobSecure) = await NewDeviceAsync(server);
        var (teamId, general) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        await using var connection = await Sdk.ConnectAsync(alice);

        var root = await aliceSecure.SendTextAsync(connection, general, "the root");
        var reply = await aliceSecure.SendTextAsync(connection, general, "a reply", options: new MessageOptions(ThreadRootId: root.Sent.MessageId));
        await using var reader = await Sdk.ConnectAsync(bob);
        var thread = await reader.GetThreadAsync(general, root.Sent.MessageId);
        var decrypted = await bobSecure.DecryptAsync(Assert.Single(Sdk.Messages(thread), m => m.EventId == reply.Sent.MessageId));

        Assert.Equal(("a reply", (Crypto.EnvelopeContentType?)Crypto.EnvelopeContentType.ThreadReply), (decrypted.Text, decrypted.Kind));
    }

    private SecureClient Reopen(TestServer server, TestUser user)
    {
        var api = new ChatWireApiClient(server.ApiBaseAddress) { SessionToken = user.Token };
        var secure = new SecureClient(api, Path.Combine(_keyDirectory, user.DeviceId.ToString("N")));
        _owned.Add(secure);
        _owned.Add(api);
        return secure;
    }

    private async Task<(TestUser User, SecureClient Secure)> NewDeviceAsync(TestServer server)
    {
        var user = await server.SignupAsync();
        var api = new ChatWireApiClient(server.ApiBaseAddress) { SessionToken = user.Token };
        var secure = new SecureClient(api, Path.Combine(_keyDirectory, user.DeviceId.ToString("N")));
        _owned.Add(secure);
        _owned.Add(api);
        await secure.SetUpDeviceAsync(user.UserId, user.DeviceId);
        return (user, secure);
    }

    public void Dispose()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }

        if (Directory.Exists(_keyDirectory))
        {
            Directory.Delete(_keyDirectory, recursive: true);
        }
    }

    // Holds the append result (and so the SEND_ACK) of one message id after it is stored, until released.
    private sealed class AckGate
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _lock = new();
        private Guid _held;

        public TaskCompletionSource<ulong> Stored { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Hold(Guid eventId)
        {
            lock (_lock)
            {
                _held = eventId;
            }
        }

        public void Release() => _released.TrySetResult();

        public bool Holds(Guid eventId)
        {
            lock (_lock)
            {
                return eventId != Guid.Empty && eventId == _held;
            }
        }

        public async ValueTask<Task<AppendResult>> EnqueueAsync(IMessageStore store, NewEvent newEvent, CancellationToken cancellationToken) =>
            AfterStoredAsync(await store.EnqueueAsync(newEvent, cancellationToken));

        private async Task<AppendResult> AfterStoredAsync(Task<AppendResult> append)
        {
            var result = await append;
            Stored.TrySetResult(result.Event?.Seq ?? 0);
            await _released.Task;
            return result;
        }
    }
}
