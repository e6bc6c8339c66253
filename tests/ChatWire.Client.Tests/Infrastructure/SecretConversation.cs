using System.Security.Cryptography;
using System.Text;
using ChatWire.Client.Secure;
using ChatWire.Crypto;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Client.Tests.Infrastructure;

/// <summary>
/// An encrypted conversation through the real SDK and server, every plaintext distinctive and random so a scan of
/// what the server stored can look for it: three users (one with two devices) in a channel and a DM, messages, a
/// thread reply, an edit and an image attachment. Then the positive controls, stored in plaintext on purpose: a
/// text/plain message, an unencrypted blob and a request path the server logs.
/// </summary>
internal sealed class SecretConversation : IDisposable
{
    private readonly TestServer _server;
    private readonly string _keyDirectory;
    private readonly List<IDisposable> _owned = [];
    private readonly List<Needle> _secrets = [];

    private SecretConversation(TestServer server, string keyDirectory)
    {
        _server = server;
        _keyDirectory = keyDirectory;
    }

    /// <summary>Everything sent encrypted: no form of any may be in what the server stored.</summary>
    public IReadOnlyList<Needle> Secrets => _secrets;

    /// <summary>A message sent as <c>text/plain</c>.</summary>
    public Needle TextControl { get; } = Needle.Text("control: text/plain message", $"PLAINTEXT-CONTROL-text-{Guid.NewGuid():N}");

    /// <summary>An attachment body uploaded without encryption.</summary>
    public Needle BlobControl { get; } = new("control: unencrypted blob", [.. Encoding.UTF8.GetBytes($"PLAINTEXT-CONTROL-blob-{Guid.NewGuid():N}-"), .. RandomNumberGenerator.GetBytes(32)], false);

    /// <summary>A request path (the server logs the requests it serves).</summary>
    public Needle LogControl { get; } = Needle.Text("control: logged request path", $"PLAINTEXT-CONTROL-log-{Guid.NewGuid():N}");

    public IEnumerable<Needle> Needles => [.. _secrets, TextControl, BlobControl, LogControl];

    public static async Task<SecretConversation> RunAsync(TestServer server, string keyDirectory)
    {
        var talk = new SecretConversation(server, keyDirectory);
        try
        {
            await talk.ExchangeAsync();
            await talk.RequestLoggedPathAsync();
            return talk;
        }
        catch
        {
            talk.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }
    }

    private async Task ExchangeAsync()
    {
        var alice = await NewUserAsync(devices: 2);
        var bob = await NewUserAsync(devices: 1);
        var carol = await NewUserAsync(devices: 1);
        var (teamId, general) = await alice[0].User.CreateTeamAsync("Scan");
        foreach (var member in new[] { bob, carol })
        {
            await member[0].User.JoinAsync(await alice[0].User.InviteAsync(teamId));
        }

        var first = Secret("message", $"PLAINTEXT-CANARY-message-{Guid.NewGuid():N}");
        var root = await SendAsync(alice[0], general, first);
        var unicode = Secret("non-ASCII message", $"PLAINTEXT-CANARY-ünïcødé-秘密のメッセージ-{Guid.NewGuid():N}");
        await SendAsync(bob[0], general, unicode);
        var second = Secret("second device's message", $"PLAINTEXT-CANARY-second-device-{Guid.NewGuid():N}");
        await SendAsync(alice[1], general, second);
        var reply = Secret("thread reply", $"PLAINTEXT-CANARY-thread-reply-{Guid.NewGuid():N}");
        await SendAsync(carol[0], general, reply, EnvelopeContentType.ThreadReply, new MessageOptions(ThreadRootId: root));
        // Read before the edit replaces it (the server keeps the edited content in the message).
        var rootEvent = Sdk.Messages(await HistoryAsync(carol[0], general)).Single(e => e.EventId == root);
        Assert.Equal(first, (await carol[0].Secure.DecryptAsync(rootEvent)).Text);
        var edit = Secret("edit", $"PLAINTEXT-CANARY-edit-{Guid.NewGuid():N}");
        await EditAsync(alice[0], general, root, edit);
        var dm = await alice[0].User.OpenDmAsync(bob[0].User.Username);
        var direct = Secret("direct message", $"PLAINTEXT-CANARY-direct-{Guid.NewGuid():N}");
        await SendAsync(bob[0], dm, direct);

        var pixels = RandomNumberGenerator.GetBytes(48);
        _secrets.Add(new Needle("image bytes", pixels, false));
        var image = TestPng.Create(pixels);
        Assert.True(image.AsSpan().IndexOf(pixels) >= 0, "The test image must hold its distinctive bytes verbatim.");
        var fileName = Secret("file name", $"PLAINTEXT-CANARY-file-{Guid.NewGuid():N}.png");
        await using (var connection = await Sdk.ConnectAsync(carol[0].User))
        {
            await carol[0].Secure.SendFileAsync(connection, general, fileName, image);
        }

        // The conversation really took place: another user's device reads every secret back.
        var read = await ReadAllAsync(bob[0], alice[1], general, root);
        foreach (var text in new[] { unicode, second, reply, edit })
        {
            Assert.Contains(text, read.Texts);
        }

        Assert.Equal(fileName, read.File?.FileName);
        Assert.Equal(image, read.File?.Content);
        var dmEvent = Assert.Single(Sdk.Messages(await HistoryAsync(alice[0], dm)));
        Assert.Equal(direct, (await alice[0].Secure.DecryptAsync(dmEvent)).Text);

        // The controls go where the secrets went.
        await using (var connection = await Sdk.ConnectAsync(alice[0].User))
        {
            await connection.SendAsync(general, TextControl.Bytes, "text/plain");
        }

        var grant = await alice[0].Api.CreateAttachmentAsync(general, BlobControl.Bytes.Length, SHA256.HashData(BlobControl.Bytes));
        await alice[0].Api.UploadBlobAsync(grant.Upload, BlobControl.Bytes);
        await alice[0].Api.CompleteAttachmentAsync(grant.AttachmentId);
    }

    private async Task RequestLoggedPathAsync()
    {
        // Refused (no session), and logged as it arrives: the scan of the log must find it.
        using var response = await _server.Http.GetAsync(new Uri("v1/" + Encoding.UTF8.GetString(LogControl.Bytes), UriKind.Relative));
        Assert.False(response.IsSuccessStatusCode);
    }

    private string Secret(string name, string text)
    {
        _secrets.Add(Needle.Text(name, text));
        return text;
    }

    private static async Task<Guid> SendAsync(Device device, Guid conversationId, string text, EnvelopeContentType kind = EnvelopeContentType.Message, MessageOptions? options = null)
    {
        await using var connection = await Sdk.ConnectAsync(device.User);
        var result = await device.Secure.SendAsync(connection, conversationId, Encoding.UTF8.GetBytes(text), kind, null, options);
        return result.Sent.MessageId;
    }

    // The SDK's encrypted edit: the new text as an edit envelope, its chain sealed to every member if it is new.
    private static async Task EditAsync(Device device, Guid conversationId, Guid messageId, string text)
    {
        await using var connection = await Sdk.ConnectAsync(device.User);
        await device.Secure.EditTextAsync(connection, conversationId, messageId, text);
    }

    private static async Task<HistoryPageResult> HistoryAsync(Device device, Guid conversationId)
    {
        await using var connection = await Sdk.ConnectAsync(device.User);
        return await connection.GetHistoryAsync(conversationId, 0, HistoryDirection.Before, 200);
    }

    // Every text the device decrypts in the conversation (messages, edits, the thread's replies) and the attachment
    // (which the downloader fetches and decrypts).
    private static async Task<(List<string> Texts, (string FileName, byte[] Content)? File)> ReadAllAsync(Device device, Device downloader, Guid conversationId, Guid threadRoot)
    {
        var events = new List<ConversationEvent>((await HistoryAsync(device, conversationId)).Events);
        await using (var connection = await Sdk.ConnectAsync(device.User))
        {
            events.AddRange((await connection.GetThreadAsync(conversationId, threadRoot, limit: 200)).Events);
        }

        var texts = new List<string>();
        (string, byte[])? file = null;
        // Each envelope once: a device refuses one it already opened as a replay, and the edited message, its
        // MessageEdited event and the thread's copy of the root carry the same envelopes.
        var distinct = events.Where(e => e.ContentType == SecureClient.ContentType).DistinctBy(e => Convert.ToBase64String(e.Content.Span));
        foreach (var e in distinct)
        {
            var content = await device.Secure.DecryptAsync(e);
            Assert.True(content.Plaintext is not null, $"{e.Kind} {e.EventId}: {content.FailureReason}");
            if (AttachmentMessage.TryDecode(content.Plaintext, out _))
            {
                // By another device: DownloadFileAsync decrypts the message again, which this device now refuses as
                // a replay.
                var (attachment, bytes) = await downloader.Secure.DownloadFileAsync(e);
                file = (attachment.FileName, bytes);
            }
            else
            {
                texts.Add(content.Text!);
            }
        }

        return (texts, file);
    }

    private async Task<List<Device>> NewUserAsync(int devices)
    {
        var first = NewDevice(await _server.SignupAsync());
        await first.Secure.SetUpDeviceAsync(first.User.UserId, first.User.DeviceId);
        var user = new List<Device> { first };
        for (var i = 1; i < devices; i++)
        {
            var device = NewDevice(await _server.LoginAsync(first.User, "device " + i));
            var pending = await device.Secure.SetUpDeviceAsync(device.User.UserId, device.User.DeviceId);
            await first.Secure.ApproveDeviceAsync(pending.LinkCode);
            Assert.True(await device.Secure.SyncOwnKeysAsync());
            user.Add(device);
        }

        return user;
    }

    private Device NewDevice(TestUser user)
    {
        var api = new ChatWireApiClient(_server.ApiBaseAddress) { SessionToken = user.Token };
        var storePath = Path.Combine(_keyDirectory, user.DeviceId.ToString("N"));
        var secure = new SecureClient(api, storePath);
        _owned.Add(secure);
        _owned.Add(api);
        return new Device(user, api, secure, storePath);
    }

    private sealed record Device(TestUser User, ChatWireApiClient Api, SecureClient Secure, string StorePath);
}
