using System.Text;
using ChatWire.Client.Secure;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// End-to-end encryption through the real in-process gateway: users with several devices set up and linked by the
// SDK, messages encrypted, distributed, stored and decrypted; what the server stores is only ciphertext.
public sealed class SecureMessagingTests(ServerFixture fixture) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly string _keyDirectory = Path.Combine(Path.GetTempPath(), "chatwire-e2e-" + Guid.NewGuid().ToString("N"));
    private readonly List<IDisposable> _owned = [];

    // A test that needs other settings starts a server of its own and sets it here.
    private TestServer? _ownServer;

    private TestServer Server => _ownServer ?? fixture.Server;

    [Fact]
    public async Task ThreeUsersTwoDevicesEach_ExchangeEncryptedMessages_EveryDeviceReadsAll()
    {
        var alice = await NewUserAsync(devices: 2);
        var bob = await NewUserAsync(devices: 2);
        var carol = await NewUserAsync(devices: 2);
        var (teamId, general) = await alice.Devices[0].User.CreateTeamAsync();
        foreach (var member in new[] { bob, carol })
        {
            await member.Devices[0].User.JoinAsync(await alice.Devices[0].User.InviteAsync(teamId));
        }

        var sent = new Dictionary<Guid, string>
        {
            [await SendAsync(alice.Devices[0], general, "from alice's first device")] = "from alice's first device",
            [await SendAsync(bob.Devices[1], general, "from bob's second device")] = "from bob's second device",
            [await SendAsync(carol.Devices[0], general, "from carol")] = "from carol",
            [await SendAsync(alice.Devices[1], general, "alice again, other device")] = "alice again, other device",
        };

        var stored = await MessagesAsync(alice.Devices[0], general);
        Assert.All(stored, e => Assert.Equal(SecureClient.ContentType, e.ContentType));
        Assert.All(stored, e => Assert.DoesNotContain("from", Encoding.UTF8.GetString(e.Content.Span), StringComparison.Ordinal));
        foreach (var device in new[] { alice, bob, carol }.SelectMany(u => u.Devices))
        {
            foreach (var message in await MessagesAsync(device, general))
            {
                var content = await device.Secure.DecryptAsync(message);
                Assert.True(content.Text == sent[message.EventId], $"{device.User.Username}/{device.User.DeviceId}: {content.FailureReason}");
            }
        }
    }

    [Fact]
    public async Task RemovedMember_CannotReadWhatFollows()
    {
        var alice = await NewUserAsync(devices: 1);
        var carol = await NewUserAsync(devices: 1);
        var (teamId, _) = await alice.Devices[0].User.CreateTeamAsync();
        await carol.Devices[0].User.JoinAsync(await alice.Devices[0].User.InviteAsync(teamId));
        var channel = await CreateChannelAsync(alice.Devices[0], teamId, carol.Devices[0]);
        var before = await SendAsync(alice.Devices[0], channel, "carol may read this");
        var beforeEvent = (await MessagesAsync(carol.Devices[0], channel)).Single(e => e.EventId == before);
        Assert.Equal("carol may read this", (await carol.Devices[0].Secure.DecryptAsync(beforeEvent)).Text);

        await carol.Devices[0].Api.LeaveChannelAsync(channel);
        var after = await SendAsync(alice.Devices[0], channel, "after carol left");
        var afterEvent = (await MessagesAsync(alice.Devices[0], channel)).Single(e => e.EventId == after);
        var seenByCarol = await carol.Devices[0].Secure.DecryptAsync(afterEvent);

        Assert.Null(seenByCarol.Plaintext);
        Assert.StartsWith("no key for this chain", seenByCarol.FailureReason, StringComparison.Ordinal);
        Assert.Equal("after carol left", (await alice.Devices[0].Secure.DecryptAsync(afterEvent)).Text);
    }

    [Fact]
    public async Task RevokedDevice_CannotReadWhatFollows()
    {
        var alice = await NewUserAsync(devices: 2);
        var bob = await NewUserAsync(devices: 1);
        var (teamId, general) = await alice.Devices[0].User.CreateTeamAsync();
        await bob.Devices[0].User.JoinAsync(await alice.Devices[0].User.InviteAsync(teamId));
        var before = await SendAsync(bob.Devices[0], general, "both of alice's devices read this");
        var beforeEvent = (await MessagesAsync(alice.Devices[1], general)).Single(e => e.EventId == before);
        Assert.NotNull((await alice.Devices[1].Secure.DecryptAsync(beforeEvent)).Plaintext);

        await alice.Devices[0].Secure.RevokeDeviceAsync(alice.Devices[1].User.DeviceId);
        var after = await SendAsync(bob.Devices[0], general, "not for the revoked device");
        var afterEvent = (await MessagesAsync(bob.Devices[0], general)).Single(e => e.EventId == after);
        var seenByRevoked = await alice.Devices[1].Secure.DecryptAsync(afterEvent);

        Assert.Null(seenByRevoked.Plaintext);
        Assert.StartsWith("no key for this chain", seenByRevoked.FailureReason, StringComparison.Ordinal);
        Assert.Equal("not for the revoked device", (await alice.Devices[0].Secure.DecryptAsync(afterEvent)).Text);
    }

    [Fact]
    public async Task NewlyLinkedDevice_HistoryMode_ReadsEarlierMessages()
    {
        var alice = await NewUserAsync(devices: 1);
        var bob = await NewUserAsync(devices: 1);
        var (teamId, general) = await alice.Devices[0].User.CreateTeamAsync();
        await bob.Devices[0].User.JoinAsync(await alice.Devices[0].User.InviteAsync(teamId));
        var first = await SendAsync(bob.Devices[0], general, "sent before the new device existed");
        await SendAsync(alice.Devices[0], general, "mine, also before");

        var laptop = await LinkDeviceAsync(alice);
        var messages = await MessagesAsync(laptop, general);
        var texts = new List<string?>();
        foreach (var message in messages)
        {
            texts.Add((await laptop.Secure.DecryptAsync(message)).Text);
        }

        Assert.Equal(["sent before the new device existed", "mine, also before"], texts);
        Assert.Contains(messages, e => e.EventId == first);
    }

    [Fact]
    public async Task NewlyLinkedDevice_StrictMode_GetsNoHistory()
    {
        var alice = await NewUserAsync(devices: 1);
        var bob = await NewUserAsync(devices: 1);
        var (teamId, general) = await alice.Devices[0].User.CreateTeamAsync();
        await bob.Devices[0].User.JoinAsync(await alice.Devices[0].User.InviteAsync(teamId));
        var channel = await CreateChannelAsync(alice.Devices[0], teamId, bob.Devices[0]);
        await alice.Devices[0].Api.SetConversationE2eModeAsync(channel, "strict");
        await SendAsync(bob.Devices[0], channel, "strict: before the new device");
        var bobEvent = Assert.Single(await MessagesAsync(alice.Devices[0], channel));
        Assert.Equal("strict: before the new device", (await alice.Devices[0].Secure.DecryptAsync(bobEvent)).Text);

        var laptop = await LinkDeviceAsync(alice);
        var seenByLaptop = await laptop.Secure.DecryptAsync(bobEvent);
        var later = await SendAsync(bob.Devices[0], channel, "strict: after the new device");
        var laterEvent = (await MessagesAsync(laptop, channel)).Single(e => e.EventId == later);

        Assert.Null(seenByLaptop.Plaintext);
        Assert.Equal("no key for this chain (sent before this device joined, strict mode)", seenByLaptop.FailureReason);
        Assert.Equal("strict: after the new device", (await laptop.Secure.DecryptAsync(laterEvent)).Text);
    }

    // docs/e2e.md, "Limits of this version": a strict conversation with more recipient devices than the sender may
    // claim prekeys for in a minute still gets its distribution; past the budget the SDK seals with the signed prekey
    // the directory lists with each device (no one-time prekey) instead of failing the send.
    [Fact]
    public async Task StrictMode_MoreDevicesThanTheClaimBudget_SignedPrekeyAlone_EveryDeviceReads()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Limits:PrekeyClaimsPerMinutePerUser"] = "2" });
        _ownServer = server;
        var alice = await NewUserAsync(devices: 1);
        var bob = await NewUserAsync(devices: 3);
        var (teamId, _) = await alice.Devices[0].User.CreateTeamAsync();
        await bob.Devices[0].User.JoinAsync(await alice.Devices[0].User.InviteAsync(teamId));
        var channel = await CreateChannelAsync(alice.Devices[0], teamId, bob.Devices[0]);
        await alice.Devices[0].Api.SetConversationE2eModeAsync(channel, "strict");

        // Three of bob's devices to seal to, two claims a minute for alice.
        var sent = await SendAsync(alice.Devices[0], channel, "three devices, two claims");

        // The X3DH header of each of bob's seeds: u8 version, EK_pub (32), u32 spk_id, u32 opk_id (0: none).
        var oneTimePrekeyIds = new List<uint>();
        foreach (var device in bob.Devices)
        {
            var message = (await MessagesAsync(device, channel)).Single(e => e.EventId == sent);
            var content = await device.Secure.DecryptAsync(message);
            Assert.True(content.Text == "three devices, two claims", $"{device.User.DeviceId}: {content.FailureReason}");
            var seed = (await device.Api.GetKeyBundlesAsync(channel)).Entries.Single(e => e.DeviceId == device.User.DeviceId && e.SenderDeviceId == alice.Devices[0].User.DeviceId);
            oneTimePrekeyIds.Add(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(seed.Sealed.AsSpan(37, 4)));
        }

        // Two claims went to the first two devices sealed to (alice's own may be one of them): the rest used none.
        Assert.Contains(0u, oneTimePrekeyIds);
        Assert.Contains(oneTimePrekeyIds, id => id != 0);
    }

    [Fact]
    public async Task Server_RefusesAnIncompleteDistribution_AndASendOnIt()
    {
        var alice = await NewUserAsync(devices: 1);
        var bob = await NewUserAsync(devices: 1);
        var (teamId, general) = await alice.Devices[0].User.CreateTeamAsync();
        await bob.Devices[0].User.JoinAsync(await alice.Devices[0].User.InviteAsync(teamId));
        var api = alice.Devices[0].Api;
        var state = await api.GetConversationE2eAsync(general);
        var chainId = Guid.CreateVersion7();
        var mine = state.Members.Single(m => m.UserId == alice.Devices[0].User.UserId);

        // Sealed to alice only (the bytes are not checked by the server, only who they are for).
        var ex = await Assert.ThrowsAsync<ChatWireException>(() => api.UploadKeyBundlesAsync(
            general, new KeyBundleUpload(chainId, state.Epoch, true, [new KeyBundleEntry(mine.UserId, null, mine.HistoryKeyGeneration, new byte[160])])));
        var mismatch = ChatWireApiClient.ReadDistributionMismatch(ex);
        await using var connection = await Sdk.ConnectAsync(alice.Devices[0].User);
        var refused = await Assert.ThrowsAsync<ChatWireException>(() => connection.SendAsync(
            general, new byte[200], SecureClient.ContentType, null, new MessageOptions(MembershipEpoch: state.Epoch, DistributionId: chainId)));

        Assert.Equal(ErrorCode.DistributionMismatch, ex.Code);
        Assert.Equal(bob.Devices[0].User.UserId, Assert.Single(mismatch.Missing).UserId);
        Assert.Equal(ErrorCode.DistributionMismatch, refused.Code);
    }

    [Theory]
    [InlineData("holiday.jpg", "image/jpeg", 1024, 768)]
    [InlineData("diagram.png", "image/png", 300, 500)]
    public async Task SendFile_RealImageWithMetadata_ArrivesCleanWithDimensionsAndThumbnail(string name, string mime, int width, int height)
    {
        var alice = await NewUserAsync(devices: 1);
        var bob = await NewUserAsync(devices: 1);
        var (teamId, general) = await alice.Devices[0].User.CreateTeamAsync();
        await bob.Devices[0].User.JoinAsync(await alice.Devices[0].User.InviteAsync(teamId));
        var image = mime == "image/png" ? TestImages.Png(width, height) : TestImages.Jpeg(width, height);

        SecureFileResult sent;
        await using (var connection = await Sdk.ConnectAsync(alice.Devices[0].User))
        {
            sent = await alice.Devices[0].Secure.SendFileAsync(connection, general, name, image);
        }

        var message = (await MessagesAsync(bob.Devices[0], general)).Single(e => e.EventId == sent.Send.Sent.MessageId);
        var (attachment, content) = await bob.Devices[0].Secure.DownloadFileAsync(message);
        var stored = await bob.Devices[0].Api.GetAttachmentAsync(sent.AttachmentId);
        var descriptor = attachment.Descriptor;
        using var thumbnail = SkiaSharp.SKBitmap.Decode(descriptor.Thumbnail);

        Assert.True(sent.MetadataStripped);
        Assert.True(TestImages.ContainsSecret(image));
        Assert.False(TestImages.ContainsSecret(content));
        Assert.False(TestImages.ContainsSecret(descriptor.Thumbnail));
        Assert.Equal(ImageMetadata.Strip(image), content);
        Assert.Equal((name, mime, (uint)width, (uint)height), (attachment.FileName, descriptor.MimeType, descriptor.Width, descriptor.Height));
        Assert.Equal(new ImageHeader(mime, width, height), ImageDecoding.ReadHeader(content));
        Assert.Equal("image/jpeg", ImageMetadata.SniffImageType(descriptor.Thumbnail));
        Assert.Equal(320, Math.Max(thumbnail.Width, thumbnail.Height));
        Assert.InRange(descriptor.Thumbnail!.Length, 1, ImageDecoding.ThumbnailMaxBytes);
        Assert.Equal(descriptor.Keys.Sha256, stored.Sha256);
    }

    [Fact]
    public async Task SendFile_InAThread_WithAMention_ArrivesAsAThreadReplyThatDownloads()
    {
        var alice = await NewUserAsync(devices: 1);
        var bob = await NewUserAsync(devices: 1);
        var (teamId, general) = await alice.Devices[0].User.CreateTeamAsync();
        await bob.Devices[0].User.JoinAsync(await alice.Devices[0].User.InviteAsync(teamId));
        var root = await SendAsync(alice.Devices[0], general, "the plan, see the file below");

        SecureFileResult sent;
        await using (var connection = await Sdk.ConnectAsync(alice.Devices[0].User))
        {
            sent = await alice.Devices[0].Secure.SendFileAsync(
                connection, general, "plan.txt", "step one"u8.ToArray(), "text/plain", messageId: null, new MessageOptions(ThreadRootId: root, Mentions: [bob.Devices[0].User.UserId]));
        }

        await using var reader = await Sdk.ConnectAsync(bob.Devices[0].User);
        var thread = Sdk.Messages(await reader.GetThreadAsync(general, root));
        var reply = Assert.Single(thread, e => e.EventId == sent.Send.Sent.MessageId);
        var decrypted = await bob.Devices[0].Secure.DecryptAsync(reply);
        var (attachment, content) = await bob.Devices[0].Secure.DownloadFileAsync(reply);
        var bobsGeneral = (await reader.GetConversationStatesAsync()).Single(s => s.ConversationId == general);

        Assert.Equal(root, reply.ThreadRootId);
        Assert.Equal(Crypto.EnvelopeContentType.ThreadReply, decrypted.Kind);
        Assert.Equal("plan.txt", attachment.FileName);
        Assert.Equal("step one"u8.ToArray(), content);
        Assert.Equal(1u, bobsGeneral.MentionCount);
    }

    // Decryption check 9: a server that shows a sealed message under another id, in another thread, with other
    // mentions or from another device gets nothing shown, whether the device decrypts it then for the first time or
    // kept its text from before; and the true delivery still reads, though a chain key works only once.
    [Fact]
    public async Task DecryptAsync_EventNotAsItsSenderSealedIt_NotShown_TheTrueOneStillReads()
    {
        var alice = await NewUserAsync(devices: 1);
        var bob = await NewUserAsync(devices: 1);
        var bobId = bob.Devices[0].User.UserId;
        var (teamId, general) = await alice.Devices[0].User.CreateTeamAsync();
        await bob.Devices[0].User.JoinAsync(await alice.Devices[0].User.InviteAsync(teamId));
        var root = await SendAsync(alice.Devices[0], general, "the plan");
        Guid first, second;
        await using (var connection = await Sdk.ConnectAsync(alice.Devices[0].User))
        {
            var inThread = new MessageOptions(ThreadRootId: root, Mentions: [bobId]);
            first = (await alice.Devices[0].Secure.SendTextAsync(connection, general, "step one", options: inThread)).Sent.MessageId;
            second = (await alice.Devices[0].Secure.SendTextAsync(connection, general, "step two", options: inThread)).Sent.MessageId;
        }

        await using var reader = await Sdk.ConnectAsync(bob.Devices[0].User);
        var thread = Sdk.Messages(await reader.GetThreadAsync(general, root));
        var one = thread.Single(e => e.EventId == first);
        var two = thread.Single(e => e.EventId == second);
        var secure = bob.Devices[0].Secure;

        // The first sight of each is a lie: decrypted, checked against the event, not shown.
        var underAnotherId = await secure.DecryptAsync(one with { EventId = Guid.CreateVersion7() });
        var mentionDropped = await secure.DecryptAsync(two with { Mentions = [] });
        var trueOne = await secure.DecryptAsync(one);
        var trueTwo = await secure.DecryptAsync(two);

        // Kept texts are checked again against whatever event comes with them.
        var lies = new[]
        {
            one with { ThreadRootId = Guid.Empty },
            one with { ThreadRootId = second },
            one with { Mentions = [bobId, alice.Devices[0].User.UserId] },
            one with { GroupMentions = GroupMentions.Channel },
            one with { SenderDeviceId = Guid.CreateVersion7() },
            one with { Kind = EventKind.MessageEdited, SubjectId = first },
        };
        var refused = new List<DecryptedContent>();
        foreach (var lie in lies)
        {
            refused.Add(await secure.DecryptAsync(lie));
        }

        Assert.All(refused.Prepend(mentionDropped).Prepend(underAnotherId), seen =>
        {
            Assert.Null(seen.Plaintext);
            Assert.Contains("E2E_NOT_AS_SEALED", seen.FailureReason, StringComparison.Ordinal);
        });
        Assert.Contains("a message id", underAnotherId.FailureReason, StringComparison.Ordinal);
        Assert.Contains("mentions", mentionDropped.FailureReason, StringComparison.Ordinal);
        Assert.Equal("step one", trueOne.Text);
        Assert.Equal("step two", trueTwo.Text);
        Assert.Equal("step one", (await secure.DecryptAsync(one)).Text);
    }

    // Deleted for everyone: the text kept on this device goes with it (and a chain key works once, so it cannot be
    // decrypted again from the original event either).
    [Fact]
    public async Task DecryptAsync_TheDeletedMessagesTombstone_ForgetsItsKeptPlaintext()
    {
        var alice = await NewUserAsync(devices: 1);
        var bob = await NewUserAsync(devices: 1);
        var (teamId, general) = await alice.Devices[0].User.CreateTeamAsync();
        await bob.Devices[0].User.JoinAsync(await alice.Devices[0].User.InviteAsync(teamId));
        var kept = await SendAsync(alice.Devices[0], general, "kept");
        var deleted = await SendAsync(alice.Devices[0], general, "delete me");
        var history = await MessagesAsync(bob.Devices[0], general);
        var bobsSecure = bob.Devices[0].Secure;
        foreach (var message in history)
        {
            Assert.NotNull((await bobsSecure.DecryptAsync(message)).Plaintext);
        }

        Assert.Equal("delete me", (await bobsSecure.DecryptAsync(history.Single(e => e.EventId == deleted))).Text);
        var messageDirectory = Path.Combine(_keyDirectory, bob.Devices[0].User.DeviceId.ToString("N"), "plaintexts", general.ToString("N"), deleted.ToString("N"));
        Assert.Single(Directory.GetFiles(messageDirectory));

        await using (var connection = await Sdk.ConnectAsync(alice.Devices[0].User))
        {
            await connection.DeleteAsync(general, deleted);
        }

        var tombstone = (await MessagesAsync(bob.Devices[0], general)).Single(e => e.EventId == deleted);
        Assert.NotEqual(0, tombstone.DeletedAtUnixMs);
        Assert.False((await bobsSecure.DecryptAsync(tombstone)).Encrypted);

        Assert.False(Directory.Exists(messageDirectory));
        var again = await bobsSecure.DecryptAsync(history.Single(e => e.EventId == deleted));
        Assert.Null(again.Plaintext);
        Assert.Equal("replayed message", again.FailureReason);
        Assert.Equal("kept", (await bobsSecure.DecryptAsync(history.Single(e => e.EventId == kept))).Text);
    }

    // A plaintext an earlier version kept directly in plaintexts/ (named by the content's hash) moves under its message
    // when read, so that the message's deletion takes it too.
    [Fact]
    public async Task DecryptAsync_APlaintextKeptTheOldWay_MovesUnderItsMessage_AndGoesWithItsDeletion()
    {
        var alice = await NewUserAsync(devices: 1);
        var bob = await NewUserAsync(devices: 1);
        var (teamId, general) = await alice.Devices[0].User.CreateTeamAsync();
        await bob.Devices[0].User.JoinAsync(await alice.Devices[0].User.InviteAsync(teamId));
        var id = await SendAsync(alice.Devices[0], general, "kept the old way");
        var original = (await MessagesAsync(bob.Devices[0], general)).Single(e => e.EventId == id);
        var bobsSecure = bob.Devices[0].Secure;
        Assert.Equal("kept the old way", (await bobsSecure.DecryptAsync(original)).Text);
        var plaintexts = Path.Combine(_keyDirectory, bob.Devices[0].User.DeviceId.ToString("N"), "plaintexts");
        var messageDirectory = Path.Combine(plaintexts, general.ToString("N"), id.ToString("N"));
        var kept = Assert.Single(Directory.GetFiles(messageDirectory));
        var flat = Path.Combine(plaintexts, Path.GetFileName(kept));
        File.Move(kept, flat);
        Directory.Delete(messageDirectory);

        Assert.Equal("kept the old way", (await bobsSecure.DecryptAsync(original)).Text);
        Assert.False(File.Exists(flat));
        Assert.Single(Directory.GetFiles(messageDirectory));

        await bobsSecure.ForgetMessageAsync(general, id);
        Assert.False(Directory.Exists(messageDirectory));
        Assert.Equal("replayed message", (await bobsSecure.DecryptAsync(original)).FailureReason);
    }

    [Fact]
    public async Task SendFile_CorruptJpeg_IsRefusedBeforeUpload()
    {
        var alice = await NewUserAsync(devices: 1);
        var (_, general) = await alice.Devices[0].User.CreateTeamAsync();
        var jpeg = TestImages.Jpeg(64, 64)[..200];

        await using var connection = await Sdk.ConnectAsync(alice.Devices[0].User);
        var ex = await Assert.ThrowsAsync<InvalidImageException>(() => alice.Devices[0].Secure.SendFileAsync(connection, general, "broken.jpg", jpeg));

        Assert.Equal("JPEG", ex.Format);
        Assert.Empty(await MessagesAsync(alice.Devices[0], general));
    }

    // Several chunks (64 KiB each), streamed from the download into the caller's stream.
    [Fact]
    public async Task DownloadFileTo_AFileOfSeveralChunks_StreamsIntoTheDestination()
    {
        var alice = await NewUserAsync(devices: 1);
        var bob = await NewUserAsync(devices: 1);
        var (teamId, general) = await alice.Devices[0].User.CreateTeamAsync();
        await bob.Devices[0].User.JoinAsync(await alice.Devices[0].User.InviteAsync(teamId));
        var bytes = new byte[200_000];
        new Random(7).NextBytes(bytes);
        SecureFileResult sent;
        await using (var connection = await Sdk.ConnectAsync(alice.Devices[0].User))
        {
            sent = await alice.Devices[0].Secure.SendFileAsync(connection, general, "data.bin", bytes, "application/octet-stream");
        }

        var message = (await MessagesAsync(bob.Devices[0], general)).Single(e => e.EventId == sent.Send.Sent.MessageId);
        using var destination = new MemoryStream();
        var attachment = await bob.Devices[0].Secure.DownloadFileToAsync(message, destination);

        Assert.Equal("data.bin", attachment.FileName);
        Assert.Equal(bytes, destination.ToArray());
    }

    // A file sent from a stream is encrypted as it is uploaded (read twice, never held whole); an image from a stream
    // still has its metadata removed; a stream that cannot seek is refused before anything is sent.
    [Fact]
    public async Task SendFileFromAStream_UploadedAsItIsEncrypted_ReceivedWhole_ImagesStillStripped()
    {
        var alice = await NewUserAsync(devices: 1);
        var bob = await NewUserAsync(devices: 1);
        var (teamId, general) = await alice.Devices[0].User.CreateTeamAsync();
        await bob.Devices[0].User.JoinAsync(await alice.Devices[0].User.InviteAsync(teamId));
        var bytes = new byte[300_000];
        new Random(11).NextBytes(bytes);
        var path = Path.Combine(Path.GetTempPath(), "chatwire-stream-" + Guid.NewGuid().ToString("N") + ".bin");
        await File.WriteAllBytesAsync(path, bytes);
        SecureFileResult sent, image;
        try
        {
            await using var connection = await Sdk.ConnectAsync(alice.Devices[0].User);
            await using (var file = File.OpenRead(path))
            {
                sent = await alice.Devices[0].Secure.SendFileAsync(connection, general, "big.bin", file);
            }

            image = await alice.Devices[0].Secure.SendFileAsync(connection, general, "photo.jpg", new MemoryStream(TestImages.Jpeg(40, 30)));
            var unseekable = new ForwardOnlyStream(bytes);
            await Assert.ThrowsAsync<ArgumentException>(() => alice.Devices[0].Secure.SendFileAsync(connection, general, "pipe.bin", unseekable));
        }
        finally
        {
            File.Delete(path);
        }

        var messages = await MessagesAsync(bob.Devices[0], general);
        var (attachment, content) = await bob.Devices[0].Secure.DownloadFileAsync(messages.Single(e => e.EventId == sent.Send.Sent.MessageId));
        Assert.Equal(("big.bin", "application/octet-stream"), (attachment.FileName, attachment.Descriptor.MimeType));
        Assert.Equal(bytes, content);
        Assert.False(sent.MetadataStripped);

        var (photo, photoContent) = await bob.Devices[0].Secure.DownloadFileAsync(messages.Single(e => e.EventId == image.Send.Sent.MessageId));
        Assert.True(image.MetadataStripped);
        Assert.Equal(("image/jpeg", 40u, 30u), (photo.Descriptor.MimeType, photo.Descriptor.Width, photo.Descriptor.Height));
        Assert.False(TestImages.ContainsSecret(photoContent));
    }

    // The file changes between the reading that declared its hash and the one that uploads it: nothing is sent.
    [Fact]
    public async Task SendFileFromAStream_FileChangesWhileItIsSent_AttachmentMismatch_NothingSent()
    {
        var alice = await NewUserAsync(devices: 1);
        var (_, general) = await alice.Devices[0].User.CreateTeamAsync();
        var bytes = new byte[100_000];
        new Random(12).NextBytes(bytes);
        await using var connection = await Sdk.ConnectAsync(alice.Devices[0].User);
        var before = (await MessagesAsync(alice.Devices[0], general)).Count;

        var ex = await Assert.ThrowsAsync<SecureMessagingException>(() => alice.Devices[0].Secure.SendFileAsync(connection, general, "moving.bin", new ChangingStream(bytes, changeAtRewind: 3)));

        Assert.Equal(SecureFailure.AttachmentMismatch, ex.Failure);
        Assert.Equal(before, (await MessagesAsync(alice.Devices[0], general)).Count);
    }

    [Fact]
    public async Task DownloadFile_ImageUnlikeItsDescriptor_IsRefusedUnlessAccepted()
    {
        var alice = await NewUserAsync(devices: 1);
        var (_, general) = await alice.Devices[0].User.CreateTeamAsync();
        // A sender that declares a PNG but uploads text: the hash matches (it is what was uploaded), the type does not.
        SecureFileResult sent;
        await using (var connection = await Sdk.ConnectAsync(alice.Devices[0].User))
        {
            sent = await alice.Devices[0].Secure.SendFileAsync(connection, general, "fake.png", "not a png"u8.ToArray(), "image/png");
        }

        var message = (await MessagesAsync(alice.Devices[0], general)).Single(e => e.EventId == sent.Send.Sent.MessageId);
        var refused = await Assert.ThrowsAsync<SecureMessagingException>(() => alice.Devices[0].Secure.DownloadFileAsync(message));
        var (_, content) = await alice.Devices[0].Secure.DownloadFileAsync(message, acceptImageMismatch: true);

        Assert.Equal(SecureFailure.AttachmentMismatch, refused.Failure);
        Assert.Contains("fake.png is not the image its message describes", refused.Message, StringComparison.Ordinal);
        Assert.Equal("not a png"u8.ToArray(), content);
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

    private static async Task<Guid> SendAsync(Device device, Guid conversationId, string text)
    {
        await using var connection = await Sdk.ConnectAsync(device.User);
        var result = await device.Secure.SendTextAsync(connection, conversationId, text);
        return result.Sent.MessageId;
    }

    private static async Task<IReadOnlyList<ConversationEvent>> MessagesAsync(Device device, Guid conversationId)
    {
        await using var connection = await Sdk.ConnectAsync(device.User);
        return Sdk.Messages(await connection.GetHistoryAsync(conversationId, 0, HistoryDirection.Before, 200));
    }

    private static async Task<Guid> CreateChannelAsync(Device owner, Guid teamId, Device member)
    {
        var channel = await owner.Api.CreateChannelAsync(teamId, "c" + Guid.NewGuid().ToString("N")[..10], isPrivate: true);
        await owner.Api.AddChannelMemberAsync(channel.ConversationId, member.User.UserId);
        return channel.ConversationId;
    }

    private async Task<SecureUser> NewUserAsync(int devices)
    {
        var first = NewDevice(await Server.SignupAsync());
        await first.Secure.SetUpDeviceAsync(first.User.UserId, first.User.DeviceId);
        var user = new SecureUser([first]);
        for (var i = 1; i < devices; i++)
        {
            await LinkDeviceAsync(user);
        }

        return user;
    }

    // A new login of the user, approved by its first device by the code it shows, keys picked up.
    private async Task<Device> LinkDeviceAsync(SecureUser user)
    {
        var device = NewDevice(await Server.LoginAsync(user.Devices[0].User, "device " + user.Devices.Count));
        var pending = await device.Secure.SetUpDeviceAsync(device.User.UserId, device.User.DeviceId);
        await user.Devices[0].Secure.ApproveDeviceAsync(pending.LinkCode);
        Assert.True(await device.Secure.SyncOwnKeysAsync());
        user.Devices.Add(device);
        return device;
    }

    private Device NewDevice(TestUser user)
    {
        var api = new ChatWireApiClient(Server.ApiBaseAddress) { SessionToken = user.Token };
        var secure = new SecureClient(api, Path.Combine(_keyDirectory, user.DeviceId.ToString("N")));
        _owned.Add(secure);
        _owned.Add(api);
        return new Device(user, api, secure);
    }

    private sealed record Device(TestUser User, ChatWireApiClient Api, SecureClient Secure);

    private sealed record SecureUser(List<Device> Devices);

    private sealed class ForwardOnlyStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }

    // A file whose last byte changes when it is rewound for the n-th time (the n-th reading from the start).
    private sealed class ChangingStream(byte[] bytes, int changeAtRewind) : MemoryStream(bytes, 0, bytes.Length, writable: true, publiclyVisible: true)
    {
        private int _rewinds;

        public override long Position
        {
            get => base.Position;
            set
            {
                if (value == 0 && ++_rewinds == changeAtRewind)
                {
                    GetBuffer()[(int)Length - 1] ^= 1;
                }

                base.Position = value;
            }
        }
    }
}
