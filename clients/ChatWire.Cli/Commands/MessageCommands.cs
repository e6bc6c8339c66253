using System.Globalization;
using System.Text.Json.Nodes;
using ChatWire.Client;
using ChatWire.Client.Secure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Cli.Commands;

// The verbs that speak the TCP protocol. send and history connect without reconnecting, do one thing
// and disconnect; listen stays connected (reconnecting) until Ctrl+C or a terminal close.
internal static class MessageCommands
{
    private const int DefaultHistoryLimit = 20;
    private const int MaxHistoryLimit = 10_000;

    // send encrypts by default (docs/cli.md, "Encryption"); --plaintext-content sends the text as text/plain for a
    // conversation whose other members have no keys; --file sends an encrypted attachment.
    public static async Task<int> SendAsync(CommandContext context)
    {
        Guid? messageId = null;
        if (context.Option("--message-id") is { } idText)
        {
            messageId = Guid.TryParse(idText, out var parsed) && parsed != Guid.Empty
                ? parsed
                : throw new CliUsageException($"--message-id must be a UUID; got \"{idText}\".");
        }

        var file = context.Option("--file");
        if ((file is null) == (context.Arguments.Count < 2))
        {
            throw new CliUsageException(file is null ? "send needs a TEXT (or --file PATH)." : "send --file takes no TEXT.");
        }

        var plaintextContent = context.Flag("--plaintext-content");
        if (plaintextContent && file is not null)
        {
            throw new CliUsageException("--file is always encrypted; drop --plaintext-content.");
        }

        var text = file is null ? await ReadTextAsync(context, context.Arguments.Skip(1)).ConfigureAwait(false) : string.Empty;

        // Read before anything goes to the server: a missing file fails alone.
        await using var fileStream = file is null ? null : CliFileException.OpenRead(file);
        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        var conversationId = await NameResolver.ResolveConversationAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var mentions = file is null ? await ChangeCommands.MentionsAsync(context, api, conversationId, text, threadRootId: null).ConfigureAwait(false) : null;
        // A profile that never went through signup or login here (written by hand, or from before encryption) has no
        // keys: its text goes as before, with a warning; every login sets keys up, so that is the exception.
        using var secure = plaintextContent ? null : await E2eView.OpenAsync(context, api).ConfigureAwait(false);
        if (secure is null && !plaintextContent)
        {
            if (file is not null)
            {
                throw new CliException(Protocol.ErrorCode.InvalidState, "This device has no encryption keys, and files are sent only encrypted; log in again to set them up.");
            }

            await context.Output.Stderr.WriteLineAsync("chatwire: warning: not end-to-end encrypted: this device has no keys (log in again to set them up).").ConfigureAwait(false);
        }

        var (connection, _) = await context.ConnectAsync(api, profile, reconnect: false).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            SendResult sent;
            var json = new JsonObject { ["conversation_id"] = conversationId.ToString("D") };
            if (secure is null)
            {
                sent = await connection.SendAsync(conversationId, System.Text.Encoding.UTF8.GetBytes(text), ContentTypes.PlainText, messageId, mentions, context.Cancellation).ConfigureAwait(false);
            }
            else if (file is not null)
            {
                SecureFileResult result;
                try
                {
                    result = await secure.SendFileAsync(connection, conversationId, Path.GetFileName(file), fileStream!, null, messageId, options: null, context.Cancellation).ConfigureAwait(false);
                }
                catch (InvalidImageException ex)
                {
                    // Refused before anything was uploaded: the file itself is wrong, not the server's answer.
                    throw new CliException(Protocol.ErrorCode.ValidationFailed, $"{file} is {ex.Message.TrimEnd('.')}.");
                }

                sent = result.Send.Sent;
                json["attachment_id"] = result.AttachmentId.ToString("D");
                json["metadata_stripped"] = result.MetadataStripped;
                await WarnAsync(context, result.Send.Warnings).ConfigureAwait(false);
            }
            else
            {
                var result = await secure.SendTextAsync(connection, conversationId, text, messageId, mentions, context.Cancellation).ConfigureAwait(false);
                sent = result.Sent;
                await WarnAsync(context, result.Warnings).ConfigureAwait(false);
            }

            json["message_id"] = sent.MessageId.ToString("D");
            json["seq"] = sent.Seq;
            json["sent_at"] = CliOutput.Time(sent.ServerTime);
            json["encrypted"] = secure is not null;
            await context.Output.WriteAsync(json, $"Sent message_id {sent.MessageId:D} seq {sent.Seq.ToString(CultureInfo.InvariantCulture)}.").ConfigureAwait(false);
        }

        return 0;
    }

    // download MESSAGE --out PATH [--force | --thumbnail]: the attachment an encrypted message carries, its hash
    // checked, decrypted; an image must also decode as the type and dimensions its message gave, else it is refused
    // unless --force (then saved as it is, with a warning). --thumbnail writes the image's thumbnail instead.
    public static async Task<int> DownloadAsync(CommandContext context)
    {
        var outPath = context.Option("--out") ?? throw new CliUsageException("download needs --out PATH.");
        if (!Guid.TryParse(context.Arguments[0], out var messageId))
        {
            throw new CliUsageException($"MESSAGE must be a message id; got \"{context.Arguments[0]}\".");
        }

        var thumbnailOnly = context.Flag("--thumbnail");
        var force = context.Flag("--force");
        if (thumbnailOnly && force)
        {
            throw new CliUsageException("--force applies to the file, not to --thumbnail.");
        }

        CliFileException.CheckWritable(outPath);

        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        var location = (await api.LocateMessageAsync(messageId, context.Cancellation).ConfigureAwait(false))[0];
        using var secure = await DeviceCommands.RequireSecureAsync(context, api).ConfigureAwait(false);
        var (connection, _) = await context.ConnectAsync(api, profile, reconnect: false).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var page = await connection.GetHistoryAsync(location.ConversationId, location.Seq + 1, HistoryDirection.Before, 1, context.Cancellation).ConfigureAwait(false);
            var message = page.Events.FirstOrDefault(e => e.EventId == messageId && e.Kind == EventKind.Message);
            if (message.EventId != messageId)
            {
                throw new CliException(Protocol.ErrorCode.NotFound, $"Message {messageId:D} is not in its conversation's history (deleted?).");
            }

            AttachmentMessage attachment;
            byte[] content;
            string mimeType;
            if (thumbnailOnly)
            {
                attachment = await secure.ReadAttachmentAsync(message, context.Cancellation).ConfigureAwait(false);
                content = attachment.Descriptor.Thumbnail
                    ?? throw new CliException(Protocol.ErrorCode.NotFound, $"{attachment.FileName} has no thumbnail (only JPEG and PNG images get one).");
                mimeType = CheckThumbnail(attachment, content);
            }
            else
            {
                (attachment, content) = await secure.DownloadFileAsync(message, force, context.Cancellation).ConfigureAwait(false);
                mimeType = attachment.Descriptor.MimeType;
                if (force && ImageDecoding.Verify(attachment.Descriptor, content) is { } problem)
                {
                    await context.Output.Stderr.WriteLineAsync($"chatwire: warning: {attachment.FileName} is not the image its message describes ({problem}); saved as it is (--force).").ConfigureAwait(false);
                }
            }

            await CliFileException.WriteAllBytesAsync(outPath, content, context.Cancellation).ConfigureAwait(false);
            await context.Output.WriteAsync(
                new JsonObject
                {
                    ["message_id"] = messageId.ToString("D"),
                    ["attachment_id"] = attachment.Descriptor.AttachmentId.ToString("D"),
                    ["file_name"] = attachment.FileName,
                    ["mime_type"] = mimeType,
                    ["size"] = content.Length,
                    ["thumbnail"] = thumbnailOnly,
                    ["out"] = outPath,
                },
                $"Saved {(thumbnailOnly ? "the thumbnail of " : string.Empty)}{attachment.FileName} ({content.Length.ToString(CultureInfo.InvariantCulture)} bytes, {mimeType}) to {outPath}.").ConfigureAwait(false);
        }

        return 0;
    }

    // The thumbnail came from the sender: decoded by the restricted decoder before it is written, and refused unless
    // it is the small JPEG the descriptor rule says.
    private static string CheckThumbnail(AttachmentMessage attachment, byte[] thumbnail)
    {
        try
        {
            var header = ImageDecoding.ReadHeader(thumbnail);
            if (header.MimeType == "image/jpeg" && Math.Max(header.Width, header.Height) <= ImageDecoding.ThumbnailMaxSide)
            {
                return header.MimeType;
            }

            throw new CliException(Protocol.ErrorCode.ValidationFailed, $"The thumbnail of {attachment.FileName} is a {header.Width}×{header.Height} {header.MimeType}, not a JPEG of at most {ImageDecoding.ThumbnailMaxSide} px.");
        }
        catch (InvalidImageException ex)
        {
            throw new CliException(Protocol.ErrorCode.ValidationFailed, $"The thumbnail of {attachment.FileName} is {ex.Message.TrimEnd('.')}.");
        }
    }

    private static async Task WarnAsync(CommandContext context, IReadOnlyList<string> warnings)
    {
        foreach (var warning in warnings)
        {
            await context.Output.Stderr.WriteLineAsync("chatwire: warning: " + warning).ConfigureAwait(false);
        }
    }

    // The words of TEXT joined by spaces; a lone "-" reads stdin (one trailing line break dropped).
    public static async Task<string> ReadTextAsync(CommandContext context, IEnumerable<string> words)
    {
        var text = string.Join(' ', words);
        if (text == "-")
        {
            text = await context.Io.Stdin.ReadToEndAsync(context.Cancellation).ConfigureAwait(false);
            text = text.EndsWith("\r\n", StringComparison.Ordinal) ? text[..^2] : text.EndsWith('\n') ? text[..^1] : text;
        }

        return text;
    }

    // The newest N events (messages and membership changes) below --before (default: the newest), printed
    // oldest first: HISTORY Before, then Before the oldest seq of each page until N are collected or the
    // start is reached.
    public static async Task<int> HistoryAsync(CommandContext context)
    {
        var limit = context.IntOption("--limit", 1, MaxHistoryLimit) ?? DefaultHistoryLimit;
        ulong before = 0;
        if (context.Option("--before") is { } beforeText
            && (!ulong.TryParse(beforeText, NumberStyles.None, CultureInfo.InvariantCulture, out before) || before == 0))
        {
            throw new CliUsageException($"--before must be a seq (a whole number from 1); got \"{beforeText}\".");
        }

        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        var conversationId = await NameResolver.ResolveConversationAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        var (connection, info) = await context.ConnectAsync(api, profile, reconnect: false).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var pageSize = Math.Min(connection.Limits.MaxHistoryLimit, info.Limits is { MaxHistoryLimit: > 0 } limits ? limits.MaxHistoryLimit : int.MaxValue);
            var pages = new List<IReadOnlyList<ConversationEvent>>();
            var remaining = limit;
            var printed = 0;
            while (remaining > 0)
            {
                var page = await connection.GetHistoryAsync(conversationId, before, HistoryDirection.Before, Math.Min(remaining, pageSize), context.Cancellation)
                    .ConfigureAwait(false);
                var messages = page.Events.Count > remaining ? page.Events.Skip(page.Events.Count - remaining).ToList() : page.Events;
                if (messages.Count == 0)
                {
                    break;
                }

                pages.Add(messages);
                remaining -= messages.Count;
                printed += messages.Count;
                before = messages[0].Seq;
                if (!page.HasMore || before <= 1)
                {
                    break;
                }
            }

            var names = new NameBook(api, connection.UserId);
            await names.LearnAsync(pages.SelectMany(p => p), context.Cancellation).ConfigureAwait(false);
            using var secure = await E2eView.OpenAsync(context, api).ConfigureAwait(false);
            for (var i = pages.Count - 1; i >= 0; i--)
            {
                foreach (var message in pages[i])
                {
                    await E2eView.WriteEventAsync(context, secure, message, names, conversation: null).ConfigureAwait(false);
                }
            }

            if (printed == 0 && !context.Output.Json)
            {
                await context.Io.Stdout.WriteLineAsync("(no messages yet)").ConfigureAwait(false);
            }
        }

        return 0;
    }

    // Runs until Ctrl+C / SIGTERM (exit 0, even while still connecting) or a terminal close (the error, exit 1).
    public static async Task<int> ListenAsync(CommandContext context)
    {
        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        ChatWireConnection connection;
        try
        {
            connection = await ConnectRetryingAsync(context, api, profile).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.Cancellation.IsCancellationRequested)
        {
            return 0;
        }

        await using (connection.ConfigureAwait(false))
        {
            // Presence of the people in my direct conversations (at most 200): what a sidebar shows.
            var people = (await api.ListConversationsAsync(context.Cancellation).ConfigureAwait(false))
                .SelectMany(c => c.Members ?? [])
                .Where(id => id != connection.UserId)
                .Distinct()
                .Take(200)
                .ToList();
            if (people.Count > 0)
            {
                await connection.WatchPresenceAsync(people, context.Cancellation).ConfigureAwait(false);
            }

            using var secure = await E2eView.OpenAsync(context, api).ConfigureAwait(false);
            var skipMuted = context.Flag("--skip-muted");
            var muted = skipMuted ? await MutedConversationsAsync(api, context.Cancellation).ConfigureAwait(false) : [];
            if (context.Output.Json)
            {
                await context.Output.WriteAsync(new JsonObject { ["type"] = "ready" }, string.Empty).ConfigureAwait(false);
            }
            else
            {
                await context.Io.Stderr.WriteLineAsync(
                    $"chatwire: listening as {profile.Username ?? connection.UserId.ToString("D")} over {connection.Transport.ToString().ToLowerInvariant()}{(skipMuted ? ", muted teams skipped" : string.Empty)}; Ctrl+C stops").ConfigureAwait(false);
            }

            try
            {
                var first = true;
                var names = new NameBook(api, connection.UserId);
                await foreach (var item in connection.ReadEventsAsync(context.Cancellation).ConfigureAwait(false))
                {
                    switch (item)
                    {
                        case MessageReceived or MembershipChanged or MessageEdited or MessageDeleted or ReactionChanged or ChannelUpdated when item.Stored is { } e:
                            if (e.Kind == EventKind.MemberJoined && e.SubjectId == connection.UserId)
                            {
                                // A conversation of mine I may not know the name (or mute) of yet.
                                names.ForgetConversations();
                                muted = skipMuted ? await MutedConversationsAsync(api, context.Cancellation).ConfigureAwait(false) : muted;
                            }

                            if (muted.Contains(e.ConversationId))
                            {
                                if (secure is not null && e.Kind == EventKind.MessageDeleted)
                                {
                                    // Not shown, but a deleted message's kept plaintext goes all the same.
                                    await secure.ForgetMessageAsync(e.ConversationId, e.SubjectId, context.Cancellation).ConfigureAwait(false);
                                }

                                break;
                            }

                            await names.LearnAsync([e], context.Cancellation).ConfigureAwait(false);
                            var label = await names.ConversationAsync(e.ConversationId, context.Cancellation).ConfigureAwait(false);
                            await E2eView.WriteEventAsync(context, secure, e, names, label).ConfigureAwait(false);
                            break;
                        case TypingStarted typing:
                            await names.LearnUsersAsync([typing.UserId], context.Cancellation).ConfigureAwait(false);
                            await context.Output.WriteAsync(
                                PresenceCommands.TypingJson(typing),
                                $"{await names.ConversationAsync(typing.ConversationId, context.Cancellation).ConfigureAwait(false)} {names.User(typing.UserId)} is typing…").ConfigureAwait(false);
                            break;
                        case PresenceChanged change:
                            await names.LearnUsersAsync([change.UserId], context.Cancellation).ConfigureAwait(false);
                            await context.Output.WriteAsync(PresenceCommands.PresenceJson(change), PresenceCommands.PresenceHuman(change, names.User(change.UserId))).ConfigureAwait(false);
                            break;
                        case ConversationLeft left:
                            // Its name may be gone with the membership: the label is the one known, else the id.
                            await context.Output.WriteAsync(
                                CliOutput.ConversationLeftJson(left),
                                $"{await names.ConversationAsync(left.ConversationId, context.Cancellation).ConfigureAwait(false)}: you are no longer a member (left or removed while this device was away)").ConfigureAwait(false);
                            break;
                        case OwnKeysChanged keys:
                            await context.Output.WriteAsync(CliOutput.OwnKeysJson(keys), CliOutput.OwnKeysHuman(keys)).ConfigureAwait(false);
                            break;
                        case ReadStateChanged state:
                            await context.Output.WriteAsync(
                                CliOutput.ReadStateJson(state),
                                CliOutput.ReadStateHuman(state, await names.ConversationAsync(state.ConversationId, context.Cancellation).ConfigureAwait(false))).ConfigureAwait(false);
                            break;
                        case ConnectionStateChanged { State: ConnectionState.Connected } when first:
                            // The initial connect is what "ready" announced.
                            break;
                        case ConnectionStateChanged { State: ConnectionState.Connected or ConnectionState.Reconnecting } change:
                            await WriteStateAsync(context, change).ConfigureAwait(false);
                            break;
                        default:
                            // Closed: the stream ends next, with the reason as its exception.
                            break;
                    }

                    first = false;
                }
            }
            catch (OperationCanceledException) when (context.Cancellation.IsCancellationRequested)
            {
                return 0;
            }
        }

        return 0;
    }

    // The conversations of my muted teams, which listen --skip-muted leaves out.
    private static async Task<HashSet<Guid>> MutedConversationsAsync(ChatWireApiClient api, CancellationToken ct)
    {
        var mutedTeams = (await api.ListTeamsAsync(ct).ConfigureAwait(false)).Where(t => t.Muted).Select(t => t.TeamId).ToHashSet();
        return mutedTeams.Count == 0
            ? []
            : [.. (await api.ListConversationsAsync(ct).ConfigureAwait(false)).Where(c => c.TeamId is { } team && mutedTeams.Contains(team)).Select(c => c.ConversationId)];
    }

    // listen's first connect retries as its reconnects do (jittered backoff up to 30 s), with a status line on
    // stderr each time, while the failure is one that may pass: the server unreachable or busy. A refused
    // session (INVALID_TOKEN, SESSION_REVOKED, …) fails at once.
    private static async Task<ChatWireConnection> ConnectRetryingAsync(CommandContext context, ChatWireApiClient api, CliProfile profile)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                return (await context.ConnectAsync(api, profile, reconnect: true).ConfigureAwait(false)).Connection;
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or HttpRequestException or TimeoutException
                || (ex is ChatWireException server && !ChatWireException.IsTerminalCode(server.Code) && server.Code is not (Protocol.ErrorCode.NotAuthenticated or Protocol.ErrorCode.InvalidToken)))
            {
                var wait = delay * (0.5 + Random.Shared.NextDouble());
                await context.Io.Stderr.WriteLineAsync($"chatwire: cannot connect yet ({ex.Message}); retrying in {wait.TotalSeconds:0.#} s").ConfigureAwait(false);
                await Task.Delay(wait, context.Cancellation).ConfigureAwait(false);
                delay = TimeSpan.FromSeconds(Math.Min(30, delay.TotalSeconds * 2));
            }
        }
    }

    private static Task WriteStateAsync(CommandContext context, ConnectionStateChanged change)
    {
        var state = change.State == ConnectionState.Connected ? "connected" : "reconnecting";
        var json = new JsonObject { ["type"] = "connection", ["state"] = state };
        if (change.Error is { } error)
        {
            json["reason"] = error.Message;
            if (error is ChatWireException server)
            {
                json["code"] = (int)server.Code;
                json["name"] = server.Name;
            }
        }

        // Status, not an event: on stderr for people (stdout stays the events), a JSON line for scripts.
        if (!context.Output.Json)
        {
            return context.Io.Stderr.WriteLineAsync(change.State == ConnectionState.Connected
                ? "chatwire: reconnected"
                : $"chatwire: connection lost ({change.Error?.Message ?? "unknown reason"}); reconnecting…");
        }

        return context.Output.WriteAsync(json, string.Empty);
    }
}
