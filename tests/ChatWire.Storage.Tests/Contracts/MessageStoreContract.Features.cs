using System.Text;
using ChatWire.Storage.Messages;

namespace ChatWire.Storage.Tests.Contracts;

// Threads, mentions, edits, deletions, reactions and read positions: every adapter applies them the same way.
public abstract partial class MessageStoreContract
{
    private static readonly Guid Alice = Guid.NewGuid();
    private static readonly Guid AliceDevice = Guid.NewGuid();
    private static readonly Guid Bob = Guid.NewGuid();
    private static readonly Guid BobDevice = Guid.NewGuid();
    private static readonly Guid Carol = Guid.NewGuid();
    private static readonly Guid CarolDevice = Guid.NewGuid();

    [Fact]
    public async Task Reply_UpdatesTheRootsThreadSummary_AndThreadReadsRootAndReplies()
    {
        var conversation = Guid.NewGuid();
        var root = await SendAsync(conversation, Alice, AliceDevice, "root");
        await SendAsync(conversation, Bob, BobDevice, "outside the thread");
        var first = await SendAsync(conversation, Bob, BobDevice, "reply 1", thread: root.EventId);
        var second = await SendAsync(conversation, Carol, CarolDevice, "reply 2", thread: root.EventId);

        Assert.Equal(root.EventId, first.ThreadRootId);
        var details = (await Store.GetMessageDetailsAsync(conversation, [root.EventId, first.EventId], Alice))[root.EventId];
        Assert.Equal(2, details.ReplyCount);
        Assert.Equal(second.StoredAt, details.LastReplyAt);
        Assert.Equal([Alice, Bob, Carol], details.ThreadParticipants);

        var thread = await Store.ReadAsync(conversation, 0, ReadDirection.After, 10, threadRootId: root.EventId);
        Assert.Equal([root.Seq, first.Seq, second.Seq], thread.Select(e => e.Seq));
        Assert.Equal(root.EventId, thread[^1].ThreadRootId);
        var newestReply = Assert.Single(await Store.ReadAsync(conversation, 0, ReadDirection.Before, 1, threadRootId: root.EventId));
        Assert.Equal(second.Seq, newestReply.Seq);
    }

    [Fact]
    public async Task Reply_ToAReplyOrToNothing_RefusedAndTakesNoSeq()
    {
        var conversation = Guid.NewGuid();
        var root = await SendAsync(conversation, Alice, AliceDevice, "root");
        var reply = await SendAsync(conversation, Bob, BobDevice, "reply", thread: root.EventId);

        var nested = await Store.AppendAsync(Message(conversation, Bob, BobDevice, "nested") with { ThreadRootId = reply.EventId });
        var orphan = await Store.AppendAsync(Message(conversation, Bob, BobDevice, "orphan") with { ThreadRootId = Guid.CreateVersion7() });

        Assert.Equal((AppendOutcome.Refused, AppendRefusal.RootIsReply), (nested.Outcome, nested.Refusal));
        Assert.Equal((AppendOutcome.Refused, AppendRefusal.TargetNotFound), (orphan.Outcome, orphan.Refusal));
        Assert.Equal(reply.Seq, await LatestSeqAsync(conversation));
    }

    [Fact]
    public async Task Edit_ByTheAuthor_ReplacesTheContentAndIsAnEventOfItsOwn()
    {
        var conversation = Guid.NewGuid();
        var message = await SendAsync(conversation, Alice, AliceDevice, "helo");

        var edit = await Store.AppendAsync(Change(conversation, EventKind.MessageEdited, message.EventId, Alice, AliceDevice, "hello"));

        Assert.Equal(AppendOutcome.Stored, edit.Outcome);
        Assert.Equal(message.Seq + 1, edit.Event!.Seq);
        Assert.Equal(message.EventId, edit.Event.SubjectId);
        var events = await Store.ReadAsync(conversation, 0, ReadDirection.After, 10);
        Assert.Equal("hello", Encoding.UTF8.GetString(events[0].Content.Span));
        Assert.NotNull(events[0].EditedAt);
        Assert.Equal("hello", Encoding.UTF8.GetString(events[1].Content.Span));
        Assert.Equal(EventKind.MessageEdited, events[1].Kind);
    }

    [Fact]
    public async Task Edit_SomeoneElsesOrAMissingMessage_Refused()
    {
        var conversation = Guid.NewGuid();
        var message = await SendAsync(conversation, Alice, AliceDevice, "mine");

        var notAuthor = await Store.AppendAsync(Change(conversation, EventKind.MessageEdited, message.EventId, Bob, BobDevice, "theirs"));
        var missing = await Store.AppendAsync(Change(conversation, EventKind.MessageEdited, Guid.CreateVersion7(), Alice, AliceDevice, "x"));
        var membership = await Store.AppendAsync(NewEvent.Membership(conversation, EventKind.MemberJoined, Bob, Alice, AliceDevice));
        var notAMessage = await Store.AppendAsync(Change(conversation, EventKind.MessageEdited, membership.Event!.EventId, Alice, AliceDevice, "x"));

        Assert.Equal(AppendRefusal.NotAuthor, notAuthor.Refusal);
        Assert.Equal(AppendRefusal.TargetNotFound, missing.Refusal);
        Assert.Equal(AppendRefusal.TargetNotFound, notAMessage.Refusal);
        Assert.Equal("mine", Encoding.UTF8.GetString((await Store.ReadAsync(conversation, 0, ReadDirection.After, 1))[0].Content.Span));
        Assert.Equal(membership.Event.Seq, await LatestSeqAsync(conversation));
    }

    [Fact]
    public async Task Delete_ErasesTheMessageAndItsEdits_LeavesATombstone_AndIsIdempotent()
    {
        var conversation = Guid.NewGuid();
        var message = await SendAsync(conversation, Alice, AliceDevice, "secret");
        await Store.AppendAsync(Change(conversation, EventKind.MessageEdited, message.EventId, Alice, AliceDevice, "secret, edited"));
        await Store.AppendAsync(Change(conversation, EventKind.ReactionAdded, message.EventId, Bob, BobDevice, "👍"));

        var deleted = await Store.AppendAsync(Change(conversation, EventKind.MessageDeleted, message.EventId, Alice, AliceDevice, null));
        var again = await Store.AppendAsync(Change(conversation, EventKind.MessageDeleted, message.EventId, Alice, AliceDevice, null));
        var reactToDeleted = await Store.AppendAsync(Change(conversation, EventKind.ReactionAdded, message.EventId, Bob, BobDevice, "🎉"));
        var unreactToDeleted = await Store.AppendAsync(Change(conversation, EventKind.ReactionRemoved, message.EventId, Bob, BobDevice, "👍"));
        var unreactToNone = await Store.AppendAsync(Change(conversation, EventKind.ReactionRemoved, Guid.CreateVersion7(), Bob, BobDevice, "👍"));

        Assert.Equal(AppendOutcome.Stored, deleted.Outcome);
        Assert.Equal(AppendOutcome.Unchanged, again.Outcome);
        Assert.Equal(AppendRefusal.TargetNotFound, reactToDeleted.Refusal);
        Assert.Equal((AppendOutcome.Refused, AppendRefusal.TargetNotFound), (unreactToDeleted.Outcome, unreactToDeleted.Refusal));
        Assert.Equal((AppendOutcome.Refused, AppendRefusal.TargetNotFound), (unreactToNone.Outcome, unreactToNone.Refusal));
        var events = await Store.ReadAsync(conversation, 0, ReadDirection.After, 10);
        Assert.Equal(4, events.Count);
        Assert.Equal(message.Seq, events[0].Seq);
        Assert.NotNull(events[0].DeletedAt);
        Assert.All(events, e => Assert.True(e.Content.IsEmpty || e.Kind == EventKind.ReactionAdded));
        Assert.Equal(EventKind.MessageDeleted, events[3].Kind);
        Assert.Empty(await Store.GetMessageDetailsAsync(conversation, [message.EventId], Bob));
    }

    [Fact]
    public async Task Resend_AfterAnEditOrADeletion_IsStillRecognised_AndADeletionDropsTheMentions()
    {
        var conversation = Guid.NewGuid();
        var sent = Message(conversation, Alice, AliceDevice, "@bob hi") with { Mentions = [Bob], GroupMentions = GroupMentions.Here };
        var deletedSend = Message(conversation, Alice, AliceDevice, "oops @bob") with { Mentions = [Bob] };
        var original = (await Store.AppendAsync(sent)).Event!;
        var deletedOriginal = (await Store.AppendAsync(deletedSend)).Event!;
        await Store.AppendAsync(Change(conversation, EventKind.MessageEdited, original.EventId, Alice, AliceDevice, "@bob hello"));
        await Store.AppendAsync(Change(conversation, EventKind.MessageDeleted, deletedOriginal.EventId, Alice, AliceDevice, null));

        // The acknowledgements were lost; the device sends both again, as they were.
        var resentEdited = await Store.AppendAsync(sent);
        var resentDeleted = await Store.AppendAsync(deletedSend);
        var changedBody = await Store.AppendAsync(sent with { Content = "@bob something else"u8.ToArray() });

        Assert.Equal((AppendOutcome.Duplicate, original.Seq), (resentEdited.Outcome, resentEdited.Event!.Seq));
        Assert.Equal((AppendOutcome.Duplicate, deletedOriginal.Seq), (resentDeleted.Outcome, resentDeleted.Event!.Seq));
        Assert.Equal(AppendOutcome.Conflict, changedBody.Outcome);
        var tombstone = (await Store.ReadAsync(conversation, 0, ReadDirection.After, 10)).Single(e => e.EventId == deletedOriginal.EventId);
        Assert.Empty(tombstone.Mentions);
        Assert.Equal(GroupMentions.None, tombstone.GroupMentions);
    }

    [Fact]
    public async Task Resend_OfAChange_IsAnsweredDuplicate_NotByTheChangesRules()
    {
        // Applied again, a reaction would change nothing (Unchanged) and a deletion would find its target gone
        // (Unchanged): a resend of one whose SEND_ACK was lost must still get the original seq back.
        var conversation = Guid.NewGuid();
        var message = (await Store.AppendAsync(Message(conversation, Alice, AliceDevice, "hi"))).Event!;
        var reaction = Change(conversation, EventKind.ReactionAdded, message.EventId, Bob, BobDevice, "👍");
        var edit = Change(conversation, EventKind.MessageEdited, message.EventId, Alice, AliceDevice, "hello");
        var deletion = Change(conversation, EventKind.MessageDeleted, message.EventId, Alice, AliceDevice, null);
        var stored = new List<StoredEvent>();
        foreach (var change in new[] { reaction, edit, deletion })
        {
            stored.Add((await Store.AppendAsync(change)).Event!);
        }

        var resent = await Task.WhenAll(new[] { reaction, edit, deletion }.Select(c => Store.AppendAsync(c)));

        Assert.Equal(stored.Select(e => (AppendOutcome.Duplicate, e.Seq)), resent.Select(r => (r.Outcome, r.Event!.Seq)));
        Assert.Equal(4UL, (await Store.ReadAsync(conversation, 0, ReadDirection.Before, 1)).Single().Seq);
    }

    [Fact]
    public async Task Delete_SomeoneElsesMessage_OnlyAsAModerator()
    {
        var conversation = Guid.NewGuid();
        var message = await SendAsync(conversation, Alice, AliceDevice, "spam");

        var member = await Store.AppendAsync(Change(conversation, EventKind.MessageDeleted, message.EventId, Bob, BobDevice, null));
        var moderator = await Store.AppendAsync(Change(conversation, EventKind.MessageDeleted, message.EventId, Bob, BobDevice, null) with { ActorModerates = true });

        Assert.Equal(AppendRefusal.NotAuthor, member.Refusal);
        Assert.Equal(AppendOutcome.Stored, moderator.Outcome);
        Assert.Equal(Bob, moderator.Event!.SenderUserId);
    }

    [Fact]
    public async Task Reactions_AreIdempotentPerUserAndEmoji_AndCountedWithTheReadersOwn()
    {
        var conversation = Guid.NewGuid();
        var message = await SendAsync(conversation, Alice, AliceDevice, "ship it?");

        var outcomes = new List<AppendOutcome>();
        foreach (var (user, device, emoji) in new[] { (Bob, BobDevice, "👍"), (Bob, BobDevice, "👍"), (Carol, CarolDevice, "👍"), (Carol, CarolDevice, "🚀") })
        {
            outcomes.Add((await Store.AppendAsync(Change(conversation, EventKind.ReactionAdded, message.EventId, user, device, emoji))).Outcome);
        }

        Assert.Equal([AppendOutcome.Stored, AppendOutcome.Unchanged, AppendOutcome.Stored, AppendOutcome.Stored], outcomes);
        var forBob = (await Store.GetMessageDetailsAsync(conversation, [message.EventId], Bob))[message.EventId];
        Assert.Equal([new ReactionCount("👍", 2, true), new ReactionCount("🚀", 1, false)], forBob.Reactions);
        Assert.Equal(0, forBob.ReplyCount);

        var removed = await Store.AppendAsync(Change(conversation, EventKind.ReactionRemoved, message.EventId, Bob, BobDevice, "👍"));
        var removedAgain = await Store.AppendAsync(Change(conversation, EventKind.ReactionRemoved, message.EventId, Bob, BobDevice, "👍"));

        Assert.Equal(AppendOutcome.Stored, removed.Outcome);
        Assert.Equal(AppendOutcome.Unchanged, removedAgain.Outcome);
        var after = (await Store.GetMessageDetailsAsync(conversation, [message.EventId], Bob))[message.EventId];
        Assert.Equal([new ReactionCount("👍", 1, false), new ReactionCount("🚀", 1, false)], after.Reactions);
        Assert.Equal(message.Seq + 4, await LatestSeqAsync(conversation));
    }

    [Fact]
    public async Task Reactions_PastThePerUserCap_Refused()
    {
        var conversation = Guid.NewGuid();
        var message = await SendAsync(conversation, Alice, AliceDevice, "react to me");

        AppendResult last = null!;
        for (var i = 0; i <= 20; i++)
        {
            last = await Store.AppendAsync(Change(conversation, EventKind.ReactionAdded, message.EventId, Bob, BobDevice, $":e{i}:"));
        }

        Assert.Equal((AppendOutcome.Refused, AppendRefusal.TooManyReactions), (last.Outcome, last.Refusal));
    }

    [Fact]
    public async Task Stats_CountOthersMessagesAndMentionsAfterTheReadPosition()
    {
        var conversation = Guid.NewGuid();
        await SendAsync(conversation, Alice, AliceDevice, "one");
        await SendAsync(conversation, Bob, BobDevice, "my own");
        await SendAsync(conversation, Alice, AliceDevice, "@bob look", mentions: [Bob]);
        await SendAsync(conversation, Alice, AliceDevice, "@channel look", everyone: GroupMentions.Channel);
        await SendAsync(conversation, Alice, AliceDevice, "@carol look", mentions: [Carol]);
        await SendAsync(conversation, Alice, AliceDevice, "@bob and @here: one mention", mentions: [Bob, Bob], everyone: GroupMentions.Here);

        var fresh = (await Store.GetStatsAsync(Bob, [conversation]))[conversation];
        var read = await Store.MarkReadAsync(Bob, conversation, 3);
        var backwards = await Store.MarkReadAsync(Bob, conversation, 1);
        var pastTheEnd = await Store.MarkReadAsync(Bob, conversation, 99);

        Assert.Equal(new ConversationStats(6, 0, 5, 3), fresh);
        Assert.Equal(new ConversationStats(6, 3, 3, 2), read);
        Assert.Equal(read, backwards);
        Assert.Equal(new ConversationStats(6, 6, 0, 0), pastTheEnd);
        Assert.Equal(new ConversationStats(6, 0, 6, 3), (await Store.GetStatsAsync(Carol, [conversation]))[conversation]);
    }

    [Fact]
    public async Task Stats_RepliesNotifyThreadParticipants_AndDeletionsUncount()
    {
        var conversation = Guid.NewGuid();
        var root = await SendAsync(conversation, Alice, AliceDevice, "root");
        await SendAsync(conversation, Bob, BobDevice, "reply", thread: root.EventId);
        var mention = await SendAsync(conversation, Carol, CarolDevice, "@alice", mentions: [Alice], thread: root.EventId);

        var beforeDelete = (await Store.GetStatsAsync(Alice, [conversation]))[conversation];
        await Store.AppendAsync(Change(conversation, EventKind.MessageDeleted, mention.EventId, Carol, CarolDevice, null));
        var afterDelete = (await Store.GetStatsAsync(Alice, [conversation]))[conversation];

        Assert.Equal(new ConversationStats(3, 0, 2, 2), beforeDelete);
        Assert.Equal(new ConversationStats(4, 0, 1, 1), afterDelete);
        Assert.Equal(new ConversationStats(0, 0, 0, 0), (await Store.GetStatsAsync(Alice, [Guid.NewGuid()])).Values.Single());
    }

    [Fact]
    public async Task DeviceCursors_MoveForwardOnly_NeverPastTheNewest_PerDevice()
    {
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        for (var i = 0; i < 3; i++)
        {
            await SendAsync(first, Alice, AliceDevice, $"m{i}");
        }

        await SendAsync(second, Alice, AliceDevice, "one");
        var phone = Guid.NewGuid();

        await Store.SetDeviceCursorsAsync(phone, [(first, 2), (second, 9)]);
        await Store.SetDeviceCursorsAsync(phone, [(first, 1)]);
        var stats = await Store.GetStatsAsync(Bob, [first, second], phone);
        var otherDevice = await Store.GetStatsAsync(Bob, [first], Guid.NewGuid());

        Assert.Equal((2UL, 1UL), (stats[first].DeviceCursor, stats[second].DeviceCursor));
        Assert.Equal(0UL, otherDevice[first].DeviceCursor);
        Assert.Equal(0UL, (await Store.GetStatsAsync(Bob, [first]))[first].DeviceCursor);
    }

    [Fact]
    public async Task FurthestDeviceCursor_IsTheHighestOfTheDevicesNamed_InThatConversationOnly()
    {
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        for (var i = 0; i < 5; i++)
        {
            await SendAsync(first, Alice, AliceDevice, $"m{i}");
            await SendAsync(second, Alice, AliceDevice, $"n{i}");
        }

        var (phone, laptop, stranger) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await Store.SetDeviceCursorsAsync(phone, [(first, 2), (second, 5)]);
        await Store.SetDeviceCursorsAsync(laptop, [(first, 4)]);
        await Store.SetDeviceCursorsAsync(stranger, [(first, 5)]);

        Assert.Equal(4UL, await Store.GetFurthestDeviceCursorAsync(first, [phone, laptop]));
        Assert.Equal(2UL, await Store.GetFurthestDeviceCursorAsync(first, [phone, phone]));
        Assert.Equal(5UL, await Store.GetFurthestDeviceCursorAsync(second, [phone, laptop]));
        Assert.Equal(0UL, await Store.GetFurthestDeviceCursorAsync(second, [laptop]));
        Assert.Equal(0UL, await Store.GetFurthestDeviceCursorAsync(Guid.NewGuid(), [phone, laptop, stranger]));
        Assert.Equal(0UL, await Store.GetFurthestDeviceCursorAsync(first, []));

        // More devices than one statement takes: the furthest is in the first chunk, and stays the answer.
        var many = Enumerable.Range(0, 1_200).Select(_ => Guid.NewGuid()).Prepend(stranger).Append(phone).ToList();
        Assert.Equal(5UL, await Store.GetFurthestDeviceCursorAsync(first, many));
    }

    [Fact]
    public async Task LocateMessage_FindsEachConversationHoldingTheId_MessagesOnly()
    {
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        var id = Guid.CreateVersion7();
        await SendAsync(first, Alice, AliceDevice, "filler");
        await Store.AppendAsync(NewEvent.Message(first, id, Alice, AliceDevice, "text/plain", "one"u8.ToArray()));
        await Store.AppendAsync(NewEvent.Message(second, id, Bob, BobDevice, "text/plain", "same id elsewhere"u8.ToArray()));
        var membership = await Store.AppendAsync(NewEvent.Membership(first, EventKind.MemberJoined, Bob, Alice, AliceDevice));

        var found = await Store.LocateMessageAsync(id);

        Assert.Equal(new[] { (first, 2UL), (second, 1UL) }.OrderBy(f => f.Item1), found.OrderBy(f => f.ConversationId));
        Assert.Empty(await Store.LocateMessageAsync(Guid.CreateVersion7()));
        Assert.Empty(await Store.LocateMessageAsync(membership.Event!.EventId));
    }

    private async Task<StoredEvent> SendAsync(Guid conversation, Guid user, Guid device, string text, Guid? thread = null, Guid[]? mentions = null, GroupMentions everyone = GroupMentions.None)
    {
        var result = await Store.AppendAsync(Message(conversation, user, device, text) with
        {
            ThreadRootId = thread,
            Mentions = mentions ?? [],
            GroupMentions = everyone,
        });
        Assert.Equal(AppendOutcome.Stored, result.Outcome);
        return result.Event!;
    }

    private static NewEvent Message(Guid conversation, Guid user, Guid device, string text) =>
        NewEvent.Message(conversation, Guid.CreateVersion7(), user, device, "text/plain", Encoding.UTF8.GetBytes(text));

    private static NewEvent Change(Guid conversation, EventKind kind, Guid messageId, Guid user, Guid device, string? emojiOrText) =>
        NewEvent.Change(conversation, kind, messageId, user, device, kind == EventKind.MessageEdited ? "text/plain" : string.Empty, emojiOrText is null ? default : Encoding.UTF8.GetBytes(emojiOrText));
}
