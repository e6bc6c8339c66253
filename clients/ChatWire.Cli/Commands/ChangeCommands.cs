using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ChatWire.Client;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Cli.Commands;

// The verbs about one message, named by its message_id (react, unreact, reply, thread, edit, delete), and
// about read state (read, unread). A message id is found in its conversation with GET /v1/messages/{id}.
internal static partial class ChangeCommands
{
    public static Task<int> ReactAsync(CommandContext context) => ReactAsync(context, remove: false);

    public static Task<int> UnreactAsync(CommandContext context) => ReactAsync(context, remove: true);

    public static async Task<int> ReplyAsync(CommandContext context)
    {
        var text = await MessageCommands.ReadTextAsync(context, context.Arguments.Skip(1)).ConfigureAwait(false);
        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        var (conversationId, messageId) = await LocateAsync(context, api, context.Arguments[0]).ConfigureAwait(false);
        var (connection, _) = await context.ConnectAsync(api, profile, reconnect: false).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // Threads are one level deep: a reply to a reply goes to its root, as a person means it.
            var root = await ThreadRootOfAsync(context, connection, conversationId, messageId).ConfigureAwait(false);
            var options = await MentionsAsync(context, api, conversationId, text, root).ConfigureAwait(false);

            // Encrypted when this device has keys, as send is.
            using var secure = await E2eView.OpenAsync(context, api).ConfigureAwait(false);
            var sent = secure is null
                ? await connection.SendAsync(conversationId, Encoding.UTF8.GetBytes(text), ContentTypes.PlainText, null, options, context.Cancellation).ConfigureAwait(false)
                : (await secure.SendAsync(connection, conversationId, Encoding.UTF8.GetBytes(text), Crypto.EnvelopeContentType.ThreadReply, null, options, context.Cancellation).ConfigureAwait(false)).Sent;
            await context.Output.WriteAsync(
                new JsonObject
                {
                    ["conversation_id"] = conversationId.ToString("D"),
                    ["message_id"] = sent.MessageId.ToString("D"),
                    ["thread_root_id"] = root.ToString("D"),
                    ["seq"] = sent.Seq,
                    ["sent_at"] = CliOutput.Time(sent.ServerTime),
                },
                $"Replied in the thread of {root:D}: message_id {sent.MessageId:D} seq {sent.Seq.ToString(CultureInfo.InvariantCulture)}.").ConfigureAwait(false);
        }

        return 0;
    }

    // The root and every reply, oldest first.
    public static async Task<int> ThreadAsync(CommandContext context)
    {
        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        var (conversationId, messageId) = await LocateAsync(context, api, context.Arguments[0]).ConfigureAwait(false);
        var (connection, _) = await context.ConnectAsync(api, profile, reconnect: false).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var root = await ThreadRootOfAsync(context, connection, conversationId, messageId).ConfigureAwait(false);
            var names = new NameBook(api, connection.UserId);
            using var secure = await E2eView.OpenAsync(context, api).ConfigureAwait(false);
            ulong after = 0;
            var printed = 0;
            while (true)
            {
                var page = await connection.GetThreadAsync(conversationId, root, after, HistoryDirection.After, connection.Limits.MaxHistoryLimit, context.Cancellation)
                    .ConfigureAwait(false);
                await names.LearnAsync(page.Events, context.Cancellation).ConfigureAwait(false);
                foreach (var e in page.Events)
                {
                    await E2eView.WriteEventAsync(context, secure, e, names, conversation: null).ConfigureAwait(false);
                    printed++;
                }

                if (!page.HasMore || page.Events.Count == 0)
                {
                    break;
                }

                after = page.Events[^1].Seq;
            }

            if (printed == 0 && !context.Output.Json)
            {
                await context.Io.Stdout.WriteLineAsync("(no such thread)").ConfigureAwait(false);
            }
        }

        return 0;
    }

    public static async Task<int> EditAsync(CommandContext context)
    {
        var text = await MessageCommands.ReadTextAsync(context, context.Arguments.Skip(1)).ConfigureAwait(false);
        using var api = context.CreateApi(context.RequireLogin());
        using var secure = await E2eView.OpenAsync(context, api).ConfigureAwait(false);
        return await ChangeAsync(
            context,
            async (connection, conversationId, messageId) =>
            {
                if (secure is not null)
                {
                    try
                    {
                        return await secure.EditTextAsync(connection, conversationId, messageId, text, context.Cancellation).ConfigureAwait(false);
                    }
                    catch (ChatWireException ex) when (ex.Code == Protocol.ErrorCode.InvalidField)
                    {
                        // The message was sent as plaintext: its edit stays plaintext too (the server refuses a mix).
                    }
                }

                return await connection.EditAsync(conversationId, messageId, Encoding.UTF8.GetBytes(text), ContentTypes.PlainText, context.Cancellation).ConfigureAwait(false);
            },
            (json, _) => json["text"] = text,
            (messageId, result) => $"Edited {messageId:D} (seq {result.Seq.ToString(CultureInfo.InvariantCulture)}).").ConfigureAwait(false);
    }

    public static Task<int> DeleteAsync(CommandContext context) =>
        ChangeAsync(
            context,
            (connection, conversationId, messageId) => connection.DeleteAsync(conversationId, messageId, context.Cancellation),
            (_, _) => { },
            (messageId, result) => result.Seq == 0 ? $"{messageId:D} was already deleted." : $"Deleted {messageId:D} (seq {result.Seq.ToString(CultureInfo.InvariantCulture)}).");

    // Marks a conversation read up to SEQ (default: everything so far) on all of my devices.
    public static async Task<int> ReadAsync(CommandContext context)
    {
        var seq = ulong.MaxValue;
        if (context.Arguments.Count > 1 && !ulong.TryParse(context.Arguments[1], NumberStyles.None, CultureInfo.InvariantCulture, out seq))
        {
            throw new CliUsageException($"SEQ must be a whole number; got \"{context.Arguments[1]}\".");
        }

        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        var conversationId = await NameResolver.ResolveConversationAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var (connection, _) = await context.ConnectAsync(api, profile, reconnect: false).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            await connection.MarkReadAsync(conversationId, seq, context.Cancellation).ConfigureAwait(false);
            var state = (await connection.GetConversationStatesAsync(context.Cancellation).ConfigureAwait(false)).Single(s => s.ConversationId == conversationId);
            await context.Output.WriteAsync(
                new JsonObject
                {
                    ["conversation_id"] = conversationId.ToString("D"),
                    ["read_seq"] = state.ReadSeq,
                    ["last_seq"] = state.LastSeq,
                    ["unread_count"] = state.UnreadCount,
                    ["mention_count"] = state.MentionCount,
                },
                $"Read up to #{state.ReadSeq.ToString(CultureInfo.InvariantCulture)} of #{state.LastSeq.ToString(CultureInfo.InvariantCulture)}: "
                + CliOutput.Counts((int)state.UnreadCount, (int)state.MentionCount) + ".").ConfigureAwait(false);
        }

        return 0;
    }

    // The conversations with something unread, channels by name: what a sidebar shows in bold.
    public static async Task<int> UnreadAsync(CommandContext context)
    {
        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        var (connection, _) = await context.ConnectAsync(api, profile, reconnect: false).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var states = await connection.GetConversationStatesAsync(context.Cancellation).ConfigureAwait(false);
            var unread = states.Where(s => s.UnreadCount > 0).ToList();
            var names = new NameBook(api, connection.UserId);
            foreach (var state in unread.OrderByDescending(s => s.MentionCount).ThenByDescending(s => s.UnreadCount))
            {
                var name = await names.ConversationAsync(state.ConversationId, context.Cancellation).ConfigureAwait(false);
                await context.Output.WriteAsync(
                    new JsonObject
                    {
                        ["conversation_id"] = state.ConversationId.ToString("D"),
                        ["name"] = name,
                        ["unread_count"] = state.UnreadCount,
                        ["mention_count"] = state.MentionCount,
                        ["read_seq"] = state.ReadSeq,
                        ["last_seq"] = state.LastSeq,
                        ["muted"] = state.Muted,
                    },
                    $"{name}: {CliOutput.Counts((int)state.UnreadCount, (int)state.MentionCount)}{(state.Muted ? " (muted)" : string.Empty)}").ConfigureAwait(false);
            }

            if (unread.Count == 0 && !context.Output.Json)
            {
                await context.Io.Stdout.WriteLineAsync("Nothing unread.").ConfigureAwait(false);
            }
        }

        return 0;
    }

    /// <summary>
    /// Who a text mentions: <c>@channel</c>, <c>@here</c> (also <c>@everyone</c>, as @channel), and
    /// <c>@username</c> of members of the conversation's team. Names that match nobody are left as text.
    /// </summary>
    public static async Task<MessageOptions?> MentionsAsync(CommandContext context, ChatWireApiClient api, Guid conversationId, string text, Guid? threadRootId)
    {
        var groups = GroupMentions.None;
        var names = new List<string>();
        foreach (Match match in MentionPattern().Matches(text))
        {
            var name = match.Groups["name"].Value.TrimEnd('.', '-');
            switch (name.ToLowerInvariant())
            {
                case "channel" or "everyone":
                    groups |= GroupMentions.Channel;
                    break;
                case "here":
                    groups |= GroupMentions.Here;
                    break;
                default:
                    names.Add(name);
                    break;
            }
        }

        var users = new List<Guid>();
        if (names.Count > 0)
        {
            var conversation = (await api.ListConversationsAsync(context.Cancellation).ConfigureAwait(false)).FirstOrDefault(c => c.ConversationId == conversationId);
            if (conversation is { TeamId: null, Members: { } dmMembers })
            {
                // A DM or group DM: the names of the people in it.
                var people = await api.GetUsersAsync(dmMembers, context.Cancellation).ConfigureAwait(false);
                users.AddRange(names
                    .Select(name => people.FirstOrDefault(p => string.Equals(p.Username, name, StringComparison.OrdinalIgnoreCase))?.UserId)
                    .OfType<Guid>()
                    .Distinct());
            }
            else if (conversation?.TeamId is { } teamId)
            {
                foreach (var name in names.Distinct(StringComparer.OrdinalIgnoreCase).Take(50))
                {
                    var members = await api.ListMembersAsync(teamId, name, 5, context.Cancellation).ConfigureAwait(false);
                    if (members.FirstOrDefault(m => string.Equals(m.Username, name, StringComparison.OrdinalIgnoreCase)) is { } member)
                    {
                        users.Add(member.UserId);
                    }
                }
            }
        }

        return groups == GroupMentions.None && users.Count == 0 && threadRootId is null ? null : new MessageOptions(threadRootId, users, groups);
    }

    private static async Task<int> ReactAsync(CommandContext context, bool remove)
    {
        var emoji = context.Arguments[1];
        return await ChangeAsync(
            context,
            (connection, conversationId, messageId) => connection.ReactAsync(conversationId, messageId, emoji, remove, context.Cancellation),
            (json, result) =>
            {
                json["emoji"] = emoji;
                json["added"] = !remove;
                json["changed"] = result.Seq != 0;
            },
            (messageId, result) => (remove, result.Seq != 0) switch
            {
                (false, true) => $"Reacted {emoji} to {messageId:D}.",
                (false, false) => $"You had already reacted {emoji} to {messageId:D}.",
                (true, true) => $"Took back {emoji} on {messageId:D}.",
                (true, false) => $"You had no {emoji} on {messageId:D}.",
            }).ConfigureAwait(false);
    }

    // Locates MESSAGE, connects, makes the change and prints what it came to.
    private static async Task<int> ChangeAsync(
        CommandContext context,
        Func<ChatWireConnection, Guid, Guid, Task<ChangeResult>> change,
        Action<JsonObject, ChangeResult> describe,
        Func<Guid, ChangeResult, string> human)
    {
        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        var (conversationId, messageId) = await LocateAsync(context, api, context.Arguments[0]).ConfigureAwait(false);
        var (connection, _) = await context.ConnectAsync(api, profile, reconnect: false).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var result = await change(connection, conversationId, messageId).ConfigureAwait(false);
            var json = new JsonObject
            {
                ["conversation_id"] = conversationId.ToString("D"),
                ["message_id"] = messageId.ToString("D"),
                ["seq"] = result.Seq,
            };
            describe(json, result);
            await context.Output.WriteAsync(json, human(messageId, result)).ConfigureAwait(false);
        }

        return 0;
    }

    // A message id, and the one conversation of mine that holds it.
    private static async Task<(Guid ConversationId, Guid MessageId)> LocateAsync(CommandContext context, ChatWireApiClient api, string argument)
    {
        if (!Guid.TryParse(argument, out var messageId) || messageId == Guid.Empty)
        {
            throw new CliUsageException($"MESSAGE must be a message id (a UUID, as history --json prints it); got \"{argument}\".");
        }

        var places = await api.LocateMessageAsync(messageId, context.Cancellation).ConfigureAwait(false);
        return places.Count == 1
            ? (places[0].ConversationId, messageId)
            : throw new CliException(
                ErrorCode.ValidationFailed,
                $"The message id {messageId:D} is in {places.Count.ToString(CultureInfo.InvariantCulture)} of your conversations; it cannot name one message.",
                [.. places.Select(p => new NameCandidate(p.ConversationId, $"seq {p.Seq.ToString(CultureInfo.InvariantCulture)}", null))]);
    }

    // The root of the thread a message is in: the message itself unless it is a reply.
    private static async Task<Guid> ThreadRootOfAsync(CommandContext context, ChatWireConnection connection, Guid conversationId, Guid messageId)
    {
        // Paging the message's own "thread" gives the message first: a reply names its root.
        var page = await connection.GetThreadAsync(conversationId, messageId, 0, HistoryDirection.After, 1, context.Cancellation).ConfigureAwait(false);
        return page.Events is [{ ThreadRootId: var root }, ..] && root != Guid.Empty ? root : messageId;
    }

    [GeneratedRegex(@"(?<![\w@])@(?<name>[\p{L}\p{N}_.\-]{1,64})", RegexOptions.CultureInvariant)]
    private static partial Regex MentionPattern();
}
