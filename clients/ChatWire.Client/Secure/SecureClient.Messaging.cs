using System.Security.Cryptography;
using System.Text;
using ChatWire.Crypto;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Client.Secure;

/// <summary>What an encrypted send came to.</summary>
/// <param name="Sent">The server's acknowledgement.</param>
/// <param name="Warnings">Key changes noticed while verifying the members (TOFU: the new key is now pinned).</param>
public sealed record SecureSendResult(SendResult Sent, IReadOnlyList<string> Warnings);

/// <summary>A message's content after decryption, or why it could not be decrypted.</summary>
/// <param name="Plaintext">The decrypted content; null when it could not be decrypted.</param>
/// <param name="Encrypted">Whether the stored content was end-to-end encrypted.</param>
/// <param name="FailureReason">Why it could not be decrypted (e.g. "device not approved yet"); null on success.</param>
/// <param name="Kind">The envelope's content type (message, edit, …) when it decrypted.</param>
public sealed record DecryptedContent(byte[]? Plaintext, bool Encrypted, string? FailureReason, EnvelopeContentType? Kind = null)
{
    /// <summary>The plaintext as UTF-8 text, or null.</summary>
    public string? Text => Plaintext is null ? null : Encoding.UTF8.GetString(Plaintext);

    /// <summary>
    /// Key changes noticed while verifying senders for this call (TOFU: the new key is now pinned, so each change is
    /// reported once, by whichever send or decryption first sees it). Empty when nothing changed.
    /// </summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
}

// Encrypted sending and receiving (E2E.md §3-4): a sender chain per conversation, its seed sealed to every
// member's history key (history mode) or every listed device (strict mode) and uploaded before the SEND, which
// names the epoch and the chain. Receiving fetches the sealed seeds addressed to me when a chain is unknown.
public sealed partial class SecureClient
{
    /// <summary>The content type of end-to-end encrypted SEND and EDIT content.</summary>
    public const string ContentType = ContentTypes.EndToEnd;

    private const int KeyBundleChunk = 200;

    /// <summary>
    /// Encrypts <paramref name="text"/> and sends it: reads the conversation's epoch and members, verifies their keys,
    /// distributes a new chain's seed when needed, then SENDs. A <c>STALE_EPOCH</c> or <c>DISTRIBUTION_MISMATCH</c>
    /// answer makes it read the state again and retry once on a new chain.
    /// </summary>
    /// <param name="connection">The connection to SEND on.</param>
    /// <param name="conversationId">The conversation.</param>
    /// <param name="text">The text.</param>
    /// <param name="messageId">The message id; a new UUIDv7 when null.</param>
    /// <param name="options">Thread and mentions (the epoch and distribution id are filled in here).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<SecureSendResult> SendTextAsync(
        ChatWireConnection connection, Guid conversationId, string text, Guid? messageId = null, MessageOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        var kind = options?.ThreadRootId is null ? EnvelopeContentType.Message : EnvelopeContentType.ThreadReply;
        return SendAsync(connection, conversationId, Encoding.UTF8.GetBytes(text), kind, messageId, options, cancellationToken);
    }

    /// <summary>
    /// Encrypts and sends <paramref name="plaintext"/> as an envelope of <paramref name="kind"/>; see <see cref="SendTextAsync"/>.
    /// A resend with the same <paramref name="messageId"/> and the same message (after an <see cref="IOException"/>, a
    /// cancellation, or a restart of the app) sends the first attempt's bytes while that attempt is unanswered, so a
    /// message the server stored already is answered with its original seq. The last 32 unanswered envelopes are kept,
    /// in memory and in the key store's <c>unacknowledged/</c> directory.
    /// </summary>
    /// <param name="connection">The connection to SEND on.</param>
    /// <param name="conversationId">The conversation.</param>
    /// <param name="plaintext">The content to encrypt.</param>
    /// <param name="kind">The envelope content type.</param>
    /// <param name="messageId">The message id; a new UUIDv7 when null.</param>
    /// <param name="options">Thread and mentions.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<SecureSendResult> SendAsync(
        ChatWireConnection connection,
        Guid conversationId,
        byte[] plaintext,
        EnvelopeContentType kind,
        Guid? messageId = null,
        MessageOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(plaintext);
        var id = messageId ?? Guid.CreateVersion7();
        var digest = SentEnvelopes.Digest(conversationId, kind, plaintext, options);
        return messageId is { } given && _sentEnvelopes.Find(given, digest) is { } earlier
            ? ResendAsync(connection, conversationId, id, kind, plaintext, options, digest, earlier, cancellationToken)
            : EncryptAndSendAsync(connection, conversationId, id, kind, plaintext, options, digest, cancellationToken);
    }

    // attachmentId: of a file's descriptor message, kept with the envelope so a resend can name it without uploading again.
    private Task<SecureSendResult> EncryptAndSendAsync(
        ChatWireConnection connection,
        Guid conversationId,
        Guid id,
        EnvelopeContentType kind,
        byte[] plaintext,
        MessageOptions? options,
        byte[] digest,
        CancellationToken cancellationToken,
        Guid attachmentId = default) =>
        EncryptAndDeliverAsync(conversationId, id, kind, plaintext, options, null, (encrypted, state) =>
            SendSealedAsync(connection, conversationId, id, options, new SentEnvelopes.Entry(digest, encrypted.Envelope, state.Epoch, encrypted.DistributionId, attachmentId), cancellationToken),
            cancellationToken);

    // The same bytes as the unacknowledged first attempt: stored already, the server answers with its seq. Not stored,
    // and the members changed meanwhile (STALE_EPOCH, DISTRIBUTION_MISMATCH): it is encrypted anew for them.
    private async Task<SecureSendResult> ResendAsync(
        ChatWireConnection connection,
        Guid conversationId,
        Guid id,
        EnvelopeContentType kind,
        byte[] plaintext,
        MessageOptions? options,
        byte[] digest,
        SentEnvelopes.Entry earlier,
        CancellationToken cancellationToken)
    {
        try
        {
            return new SecureSendResult(await SendSealedAsync(connection, conversationId, id, options, earlier, cancellationToken).ConfigureAwait(false), []);
        }
        catch (ChatWireException ex) when (ex.Code is ErrorCode.StaleEpoch or ErrorCode.DistributionMismatch)
        {
            return await EncryptAndSendAsync(connection, conversationId, id, kind, plaintext, options, digest, cancellationToken).ConfigureAwait(false);
        }
    }

    // SENDs a sealed envelope, kept under its message id until the server answers: an answer of any kind drops it,
    // a lost one (IOException, cancellation) leaves it for a resend.
    private async Task<SendResult> SendSealedAsync(
        ChatWireConnection connection, Guid conversationId, Guid id, MessageOptions? options, SentEnvelopes.Entry sealedSend, CancellationToken cancellationToken)
    {
        _sentEnvelopes.Remember(id, sealedSend);
        var sendOptions = (options ?? new MessageOptions()) with { MembershipEpoch = sealedSend.Epoch, DistributionId = sealedSend.DistributionId };
        try
        {
            var sent = await connection.SendAsync(conversationId, sealedSend.Envelope, ContentType, id, sendOptions, cancellationToken).ConfigureAwait(false);
            _sentEnvelopes.Forget(id);
            return sent;
        }
        catch (ChatWireException)
        {
            _sentEnvelopes.Forget(id);
            throw;
        }
    }

    /// <summary>
    /// Edits one of my encrypted messages: the new text goes as an encrypted edit envelope (its target bound in the
    /// authenticated header), on my chain in the conversation, distributed first when the chain is new.
    /// </summary>
    /// <param name="connection">The connection to EDIT on.</param>
    /// <param name="conversationId">The conversation.</param>
    /// <param name="messageId">The message to edit.</param>
    /// <param name="text">The new text.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<ChangeResult> EditTextAsync(ChatWireConnection connection, Guid conversationId, Guid messageId, string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(text);
        ChangeResult changed = default;
        await EncryptAndDeliverAsync(conversationId, Guid.CreateVersion7(), EnvelopeContentType.Edit, Encoding.UTF8.GetBytes(text), null, messageId, async (encrypted, _) =>
        {
            changed = await connection.EditAsync(conversationId, messageId, encrypted.Envelope, ContentType, cancellationToken).ConfigureAwait(false);
            return default;
        }, cancellationToken).ConfigureAwait(false);
        return changed;
    }

    // Reads the conversation's epoch and members, encrypts on this device's chain (distributing a new chain's seed
    // first), then delivers; STALE_EPOCH or DISTRIBUTION_MISMATCH once makes it start over on a new chain.
    private Task<SecureSendResult> EncryptAndDeliverAsync(
        Guid conversationId,
        Guid envelopeId,
        EnvelopeContentType kind,
        byte[] plaintext,
        MessageOptions? options,
        Guid? targetMessageId,
        Func<EncryptedMessage, ConversationE2e, Task<SendResult>> deliver,
        CancellationToken cancellationToken) =>
        WithStoreAsync(async (store, trust) =>
        {
            RequireApproved(store);
            for (var attempt = 0; ; attempt++)
            {
                var warnings = new List<string>();
                var state = await _api.GetConversationE2eAsync(conversationId, cancellationToken).ConfigureAwait(false);
                if (state.EpochSecret && store.SendingEpochSecret(conversationId, state.Epoch) is null)
                {
                    // Another member may have made this epoch's secret already: one secret serves every sender.
                    await ImportSeedsAsync(store, trust, conversationId, cancellationToken).ConfigureAwait(false);
                }

                var encrypted = store.EncryptMessage(new OutgoingMessage(conversationId, state.Epoch, envelopeId, kind, plaintext)
                {
                    ThreadRootId = options?.ThreadRootId,
                    TargetMessageId = targetMessageId,
                    Mentions = options?.Mentions ?? [],
                    MentionsChannel = (options?.GroupMentions ?? GroupMentions.None).HasFlag(GroupMentions.Channel),
                    MentionsHere = (options?.GroupMentions ?? GroupMentions.None).HasFlag(GroupMentions.Here),
                    EpochSecret = state.EpochSecret,
                });
                try
                {
                    if (encrypted.NewChainSeed is { } seed)
                    {
                        await DistributeAsync(store, trust, state, seed, warnings, cancellationToken).ConfigureAwait(false);
                    }

                    if (encrypted.NewEpochSecret is { } secret)
                    {
                        await DistributeAsync(store, trust, state, secret, warnings, cancellationToken).ConfigureAwait(false);
                    }

                    return new SecureSendResult(await deliver(encrypted, state).ConfigureAwait(false), warnings);
                }
                catch (ChatWireException ex) when (attempt == 0 && ex.Code is ErrorCode.StaleEpoch or ErrorCode.DistributionMismatch)
                {
                    // The roster moved under us: read it again and start a chain for it.
                    store.RetireOutboundChain(conversationId);
                    if (encrypted.EpochSecretId is { } secretId)
                    {
                        await RepairEpochSecretAsync(store, trust, conversationId, secretId, ex.Code, warnings, cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }, cancellationToken);

    /// <summary>
    /// Decrypts a stored or delivered event's content. Plaintext content comes back as is (<see cref="DecryptedContent.Encrypted"/>
    /// false). An unknown chain makes it fetch the seeds sealed to me in that conversation first. What it decrypts is kept
    /// in the key directory's <c>plaintexts/</c>, per message, until the message is deleted: passing the deletion
    /// (a <see cref="MessageDeleted"/>'s event) or the message's tombstone from a history page forgets it, as
    /// <see cref="ForgetMessageAsync"/> does.
    /// </summary>
    /// <param name="message">The event (a message, an edit, a deletion or a tombstone).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<DecryptedContent> DecryptAsync(ConversationEvent message, CancellationToken cancellationToken = default)
    {
        var deleted = message.Kind == EventKind.MessageDeleted ? message.SubjectId
            : message.Kind == EventKind.Message && message.DeletedAtUnixMs != 0 ? message.EventId
            : (Guid?)null;
        if (deleted is { } deletedId && HasKeys)
        {
            return ForgetThenPassAsync(message, deletedId, cancellationToken);
        }

        if (message.ContentType != ContentType)
        {
            return Task.FromResult(new DecryptedContent(message.Content.ToArray(), false, null));
        }

        return WithStoreAsync(async (store, trust) =>
        {
            // A message is decrypted once (the store refuses a replayed chain iteration); reading it again (history
            // run twice, a delivery and then a history page) takes the plaintext kept the first time.
            var contentHash = Convert.ToHexStringLower(SHA256.HashData(message.Content.Span));
            var messageId = message.Kind == EventKind.MessageEdited ? message.SubjectId : message.EventId;
            var cachePath = Path.Combine(PlaintextDirectory(message.ConversationId, messageId), contentHash);

            // Versions before 2026-12-05 kept every plaintext directly in plaintexts/, named by the hash alone: one
            // found there moves to this message's directory, so that the message's deletion takes it too.
            var flatPath = Path.Combine(_directory, "plaintexts", contentHash);
            if (!File.Exists(cachePath) && File.Exists(flatPath))
            {
                CreateOwnerOnlyDirectory(Path.GetDirectoryName(cachePath)!);
                File.Move(flatPath, cachePath, overwrite: true);
            }

            if (File.Exists(cachePath))
            {
                // Decrypted before; the event around it is checked again, since a history page may tell it otherwise.
                if (NotAsSealed(message, EnvelopeHeader.ReadUnauthenticated(message.Content.Span)) is { } differs)
                {
                    return new DecryptedContent(null, true, differs);
                }

                var cached = await File.ReadAllBytesAsync(cachePath, cancellationToken).ConfigureAwait(false);
                return new DecryptedContent(cached[1..], true, null, (EnvelopeContentType)cached[0]);
            }

            var result = store.TryDecrypt(message.Content.Span, message.ConversationId, message.SenderUserId, SenderDeviceKey);
            string? mode = null;
            SecureMessagingException? senderRefused = null;
            var warnings = new List<string>();
            if (result.Error == CryptoError.NoKeyForChain)
            {
                try
                {
                    if (HeldAccountKey(store) is null)
                    {
                        // A pending device: its approval may have come meanwhile.
                        await SyncOwnKeysCoreAsync(store, trust, cancellationToken).ConfigureAwait(false);
                    }

                    var refused = new Dictionary<Guid, SecureMessagingException>();
                    mode = await ImportSeedsAsync(store, trust, message.ConversationId, cancellationToken, refused, warnings).ConfigureAwait(false);
                    senderRefused = refused.GetValueOrDefault(message.SenderUserId);
                }
                catch (ChatWireException ex)
                {
                    // Not a member any more, or this device's session was revoked: no seeds to be had.
                    return new DecryptedContent(null, true, $"no key for this chain (the server gave no key bundles: {ex.Name})");
                }

                result = store.TryDecrypt(message.Content.Span, message.ConversationId, message.SenderUserId, SenderDeviceKey);
            }

            if (result.Error == CryptoError.UnknownSenderDevice && result.Header is { } header)
            {
                // An epoch-secret chain is signed by its sender's device key: fetch and verify that user's devices; a
                // revoked one counts for an epoch before the current one (what it signed before the revocation).
                Func<Guid, Guid, byte[]?> signingKey = SenderDeviceKey;
                try
                {
                    var sender = await VerifiedUserCoreAsync(trust, header.SenderUserId, cancellationToken).ConfigureAwait(false);
                    WarnIfChanged(sender, warnings);
                    RememberDevices(sender);
                    if (SenderDeviceKey(header.SenderUserId, header.SenderDeviceId) is null && sender.FormerDevices.Count > 0)
                    {
                        var current = (await _api.GetConversationE2eAsync(message.ConversationId, cancellationToken).ConfigureAwait(false)).Epoch;
                        var former = sender.DeviceFor(header.SenderDeviceId, header.Epoch, current)?.SigningKey;
                        signingKey = (userId, deviceId) => userId == header.SenderUserId && deviceId == header.SenderDeviceId ? former : SenderDeviceKey(userId, deviceId);
                    }
                }
                catch (Exception ex) when (ex is SecureMessagingException or ChatWireException)
                {
                    return new DecryptedContent(null, true, $"the sender's device keys could not be verified ({ex.Message})");
                }

                result = store.TryDecrypt(message.Content.Span, message.ConversationId, message.SenderUserId, signingKey);
            }

            if (result.Succeeded)
            {
                // Kept under the message the sender sealed it for, which a correct delivery names; a chain key works
                // once, so a delivery that misnamed it must not cost the right one its text.
                var sealedFor = result.Header!.ContentType == EnvelopeContentType.Edit ? result.Header.TargetMessageId!.Value : result.Header.MessageId;
                KeepPlaintext(Path.Combine(PlaintextDirectory(message.ConversationId, sealedFor), contentHash), result.Header.ContentType, result.Plaintext!);
                return NotAsSealed(message, result.Header) is { } differs
                    ? new DecryptedContent(null, true, differs) { Warnings = warnings }
                    : new DecryptedContent(result.Plaintext, true, null, result.Header.ContentType) { Warnings = warnings };
            }

            if (result.Error == CryptoError.NoKeyForChain && senderRefused is { Failure: SecureFailure.KeyChanged })
            {
                // A verified sender's new key: the seed is there, but nothing signed by that key is trusted yet.
                return new DecryptedContent(
                    null, true, "the sender's account key changed since you verified them (E2E_KEY_CHANGED): compare safety numbers again, or clear the mark")
                { Warnings = warnings };
            }

            return new DecryptedContent(null, true, Reason(result, store, mode)) { Warnings = warnings };
        }, cancellationToken);
    }

    /// <summary>
    /// Decryption check 9 (docs/e2e.md, "Envelope"): what the server says around the envelope, which a client shows
    /// and acts on, is what the sender sealed into its authenticated header. Null when it is; else the failure reason,
    /// and the content is not shown: a server that moved a message into another thread, gave it another message id,
    /// added or removed a mention or @channel / @here, or named another sending device is caught here. A history page
    /// shows an edited message with its newest edit's envelope, which names the message as its target and carries
    /// no thread or mentions (those stay the original's), and may come from another of the author's devices.
    /// </summary>
    internal static string? NotAsSealed(ConversationEvent message, EnvelopeHeader header)
    {
        static string Differs(string what) =>
            $"the server delivered it with {what} other than its sender sealed into it (E2E_NOT_AS_SEALED): not shown";

        if (message.Kind == EventKind.MessageEdited || (message.EditedAtUnixMs != 0 && header.ContentType == EnvelopeContentType.Edit))
        {
            var edited = message.Kind == EventKind.MessageEdited ? message.SubjectId : message.EventId;
            return header.ContentType != EnvelopeContentType.Edit || header.TargetMessageId != edited ? Differs("a message to edit")
                : message.Kind == EventKind.MessageEdited && header.SenderDeviceId != message.SenderDeviceId ? Differs("a sending device")
                : null;
        }

        var groups = (header.MentionsChannel ? GroupMentions.Channel : GroupMentions.None) | (header.MentionsHere ? GroupMentions.Here : GroupMentions.None);
        return message.Kind != EventKind.Message ? Differs("an event kind")
            : header.MessageId != message.EventId ? Differs("a message id")
            : header.SenderDeviceId != message.SenderDeviceId ? Differs("a sending device")
            : (header.ThreadRootId ?? Guid.Empty) != message.ThreadRootId ? Differs("a thread")
            : groups != message.GroupMentions || !header.Mentions.ToHashSet().SetEquals(message.Mentions) ? Differs("mentions")
            : null;
    }

    /// <summary>
    /// Deletes what this device kept of a message's decrypted content (the message and its edits): for a message
    /// deleted for everyone, so its text does not outlive it on disk. Nothing kept is not an error. Runs under the
    /// key store's lock, like decryption, so a decryption of the same message cannot write it back meanwhile.
    /// </summary>
    /// <param name="conversationId">The message's conversation.</param>
    /// <param name="messageId">The message (its event id).</param>
    /// <param name="cancellationToken">Cancels the wait for the store.</param>
    public Task ForgetMessageAsync(Guid conversationId, Guid messageId, CancellationToken cancellationToken = default) =>
        WithStoreAsync((_, _) =>
        {
            DeletePlaintexts(conversationId, messageId);
            return Task.FromResult(true);
        }, cancellationToken);

    private Task<DecryptedContent> ForgetThenPassAsync(ConversationEvent message, Guid deletedId, CancellationToken cancellationToken) =>
        WithStoreAsync((_, _) =>
        {
            DeletePlaintexts(message.ConversationId, deletedId);
            return Task.FromResult(new DecryptedContent(message.Content.ToArray(), message.ContentType == ContentType, null));
        }, cancellationToken);

    private void DeletePlaintexts(Guid conversationId, Guid messageId)
    {
        try
        {
            Directory.Delete(PlaintextDirectory(conversationId, messageId), recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Never decrypted here, or forgotten already.
        }
    }

    private string PlaintextDirectory(Guid conversationId, Guid messageId) =>
        Path.Combine(_directory, "plaintexts", conversationId.ToString("N"), messageId.ToString("N"));

    private static void CreateOwnerOnlyDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    // Owner-only, like the key store: these are the decrypted messages.
    private static void KeepPlaintext(string path, EnvelopeContentType kind, byte[] plaintext)
    {
        CreateOwnerOnlyDirectory(Path.GetDirectoryName(path)!);

        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var stream = new FileStream(path, options);
        stream.WriteByte((byte)kind);
        stream.Write(plaintext);
    }

    private static void WarnIfChanged(VerifiedUser user, List<string> warnings)
    {
        if (user.KeyChanged)
        {
            warnings.Add($"The account key of user {user.UserId} changed since you last saw it; compare safety numbers (chatwire verify).");
        }
    }

    private static string Reason(DecryptResult result, DeviceKeyStore store, string? mode) => result.Error switch
    {
        CryptoError.NoKeyForChain when HeldAccountKey(store) is null => "device not approved yet",
        CryptoError.NoKeyForChain when mode == "strict" => "no key for this chain (sent before this device joined, strict mode)",
        CryptoError.NoKeyForChain => "no key for this chain (not sealed to this user or device)",
        CryptoError.BadSignature => "bad signature",
        CryptoError.Replay => "replayed message",
        CryptoError.UnknownSenderDevice => "the sender's device is not on their signed device list",
        _ => result.Reason ?? result.Error?.ToString() ?? "unknown",
    };

    // Seals the new chain's seed (or epoch secret) to every recipient the server requires and uploads it in chunks; the last chunk
    // asks the server to check completeness.
    private async Task DistributeAsync(DeviceKeyStore store, TrustState trust, ConversationE2e state, SeedPayload seed, List<string> warnings, CancellationToken cancellationToken)
    {
        var strict = state.Mode == "strict";
        var entries = new List<KeyBundleEntry>();
        var claimsRefused = false;
        foreach (var member in state.Members)
        {
            if (strict ? member.Devices.Count == 0 : member.HistoryKeyGeneration is null)
            {
                continue;
            }

            var user = await VerifiedUserCoreAsync(trust, member.UserId, cancellationToken).ConfigureAwait(false);
            WarnIfChanged(user, warnings);

            if (!strict)
            {
                var historyKey = user.HistoryKey;
                if (historyKey is null || historyKey.Generation != member.HistoryKeyGeneration)
                {
                    throw new SecureMessagingException(SecureFailure.BadSignature, $"User {member.UserId}'s history key generation {member.HistoryKeyGeneration} is not the signed one the directory serves.");
                }

                entries.Add(new KeyBundleEntry(member.UserId, null, historyKey.Generation, store.SealSeedToHistoryKey(seed, member.UserId, historyKey.Generation, historyKey.PublicKey)));
                continue;
            }

            foreach (var deviceId in member.Devices)
            {
                // A device the signed list and its certificate do not vouch for never gets a key (E2E.md §1).
                if (user.Devices.FirstOrDefault(device => device.DeviceId == deviceId) is not { } device)
                {
                    continue;
                }

                // Past this user's claim budget (a strict conversation with more devices than claims a minute), the rest of
                // this distribution uses X3DH with the signed prekey the directory listed with each device and no one-time
                // prekey (docs/e2e.md, "One-shot X3DH"), rather than failing the send or asking again for each device.
                PrekeyBundle? bundle = null;
                if (!claimsRefused)
                {
                    try
                    {
                        bundle = await ClaimBundleAsync(member.UserId, deviceId, device.SigningKey, device.DhKey, cancellationToken).ConfigureAwait(false);
                    }
                    catch (ChatWireException ex) when (ex.Code == ErrorCode.RateLimited && device.SignedPrekey is not null)
                    {
                        claimsRefused = true;
                    }
                }

                bundle ??= device.SignedPrekey is { } signedPrekey
                    ? new PrekeyBundle(member.UserId, deviceId, device.SigningKey, device.DhKey, signedPrekey, null)
                    : await ClaimBundleAsync(member.UserId, deviceId, device.SigningKey, device.DhKey, cancellationToken).ConfigureAwait(false);

                entries.Add(new KeyBundleEntry(member.UserId, deviceId, null, store.SealSeedToDevice(seed, bundle)));
            }
        }

        var chunks = entries.Chunk(KeyBundleChunk).ToList();
        if (chunks.Count == 0)
        {
            chunks.Add([]);
        }

        for (var i = 0; i < chunks.Count; i++)
        {
            await _api.UploadKeyBundlesAsync(state.ConversationId, new KeyBundleUpload(seed.ChainId, state.Epoch, i == chunks.Count - 1, chunks[i]), cancellationToken).ConfigureAwait(false);
        }
    }

    // Every seed addressed to me in the conversation, opened and kept; a seed that does not open is skipped (its
    // messages then say why). Returns the conversation's mode, for the failure reason; senders whose keys were
    // refused go in refused, when given.
    private async Task<string> ImportSeedsAsync(
        DeviceKeyStore store,
        TrustState trust,
        Guid conversationId,
        CancellationToken cancellationToken,
        Dictionary<Guid, SecureMessagingException>? refused = null,
        List<string>? warnings = null)
    {
        var state = await _api.GetConversationE2eAsync(conversationId, cancellationToken).ConfigureAwait(false);
        var senders = new Dictionary<Guid, VerifiedUser?>();
        var openedDeviceSeal = false;
        long after = 0;
        while (true)
        {
            var page = await _api.GetKeyBundlesAsync(conversationId, after, cancellationToken: cancellationToken).ConfigureAwait(false);
            foreach (var entry in page.Entries)
            {
                if (!senders.TryGetValue(entry.SenderUserId, out var sender))
                {
                    try
                    {
                        sender = await VerifiedUserCoreAsync(trust, entry.SenderUserId, cancellationToken).ConfigureAwait(false);
                        if (warnings is not null)
                        {
                            WarnIfChanged(sender, warnings);
                        }
                    }
                    catch (Exception ex) when (ex is SecureMessagingException or ChatWireException)
                    {
                        sender = null;
                        if (ex is SecureMessagingException secure && refused is not null)
                        {
                            refused[entry.SenderUserId] = secure;
                        }
                    }

                    senders[entry.SenderUserId] = sender;
                }

                // The sealer must be a device on the sender's signed list, or a revoked one (still certified by the
                // account key) for a chain of an epoch before the current one: every revocation starts a new epoch, so
                // that is what it sealed before it was revoked.
                if (sender?.DeviceFor(entry.SenderDeviceId, entry.Epoch, state.Epoch) is not { } device)
                {
                    continue;
                }

                try
                {
                    if (entry.DeviceId is null && entry.HistoryKeyGeneration is { } generation)
                    {
                        if (store.HistoryKeys.Any(key => key.Generation == generation))
                        {
                            store.OpenHistorySeal(entry.Sealed, generation, conversationId, entry.Epoch, entry.ChainId, entry.SenderUserId, entry.SenderDeviceId, device.SigningKey);
                        }
                    }
                    else if (entry.DeviceId == store.DeviceId)
                    {
                        store.OpenDeviceSeal(entry.Sealed, conversationId, entry.Epoch, entry.ChainId, entry.SenderUserId, entry.SenderDeviceId, device.DhKey);
                        openedDeviceSeal = true;
                    }
                }
                catch (ChatWireCryptoException)
                {
                    // Kept out: the message on this chain reports the failure when it is read.
                }
            }

            if (page.NextAfter is not { } next || page.Entries.Count == 0)
            {
                break;
            }

            after = next;
        }

        if (openedDeviceSeal)
        {
            // Each seed sealed to this device took one of its one-time prekeys.
            await TopUpPrekeysCoreAsync(store, cancellationToken).ConfigureAwait(false);
        }

        return state.Mode;
    }
}
