using System.Collections.Concurrent;
using ChatWire.Gateway.Hosting;
using ChatWire.Protocol;
using ChatWire.Storage.Keys;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Conversations;

/// <summary>
/// What the server enforces on end-to-end content (docs/e2e.md, docs/protocol.md §4.8): a SEND of
/// <c>application/vnd.chatwire.e2e</c> must be sealed for the conversation's current membership epoch, under a
/// sender-chain distribution that is complete for the current roster. This is what keeps a member who was never
/// given the chain's seed from receiving messages they cannot read (the Matrix "unable to decrypt" class).
/// Plaintext content never reaches this class: it costs nothing there.
/// </summary>
internal sealed class E2eSendCheck(IKeyDirectoryStore keys, IOptions<LimitsOptions> limits)
{
    // Whether a conversation uses the epoch secret, by roster version: the member count changes only with the
    // roster version, so an answer is exact for as long as the version holds, and the roster (every member) is
    // read once per version instead of on every SEND. Holds only conversations where a SEND named another
    // device's distribution.
    private readonly ConcurrentDictionary<Guid, (long RosterVersion, bool EpochSecret)> _epochSecret = new();

    /// <summary>
    /// Above this many members (<c>Limits:MaxSenderChainMembers</c>, 1000) a conversation keys its messages with one
    /// epoch secret per epoch (docs/e2e.md, option L2): one distribution by any member serves every sender,
    /// instead of one per sender device.
    /// </summary>
    public int MaxSenderChainMembers { get; } = limits.Value.MaxSenderChainMembers;

    /// <summary>Length of a distribution id (a chain id) in SEND.</summary>
    public const int DistributionIdLength = 16;

    /// <summary>Whether a content type (any case, parameters ignored) is the end-to-end envelope's.</summary>
    public static bool IsE2e(string contentType)
    {
        var parameters = contentType.IndexOf(';', StringComparison.Ordinal);
        var essence = (parameters < 0 ? contentType.AsSpan() : contentType.AsSpan(0, parameters)).Trim();
        return essence.Equals(ContentTypes.EndToEnd, StringComparison.OrdinalIgnoreCase);
    }

    // The epoch is read here and the SEND appended later, by the message store (another database, in batches):
    // a removal that commits in between lets a SEND of the old epoch be stored after the removal event. Left
    // open on purpose. The removed member holds that chain's seed, but the server no longer serves them the
    // conversation (membership is checked on every read and delivery), and the sender sealed the message before
    // it could know of the removal: it is the message it would have been a moment earlier. Closing the window
    // would mean comparing the epoch inside the append transaction, across the directory and message stores.
    // Clients see the removal event and the new epoch; their next SEND under the old one is STALE_EPOCH.

    /// <summary>
    /// The refusal of an end-to-end SEND, or null when it may be stored. One read of the key directory (the key
    /// state and the distribution's head); when the distribution is another device's, which only an epoch-secret
    /// conversation allows, the roster's size too, read once per roster version.
    /// </summary>
    public async ValueTask<(ErrorCode Code, string Message)?> CheckSendAsync(Guid conversationId, Guid senderDeviceId, ulong epoch, ReadOnlyMemory<byte> distributionId)
    {
        var (state, distribution) = await keys.GetSendStateAsync(conversationId, new Guid(distributionId.Span, bigEndian: true));
        if (epoch != (ulong)state.Epoch)
        {
            return (ErrorCode.StaleEpoch, $"membership_epoch is not the conversation's current epoch ({state.Epoch}): read GET /v1/conversations/{conversationId}/e2e, start a new sender chain for it and distribute it.");
        }

        if (distribution is null || distribution.Epoch != state.Epoch)
        {
            return Mismatch(conversationId, "distribution_id names no distribution of this conversation for the current epoch");
        }

        if (distribution.SenderDeviceId != senderDeviceId && !await UsesEpochSecretAsync(conversationId, state.RosterVersion))
        {
            return Mismatch(conversationId, "distribution_id names another device's sender chain");
        }

        return distribution.CompleteForRosterVersion == state.RosterVersion
            ? null
            : Mismatch(conversationId, "the distribution is not complete for the conversation's current members and keys");
    }

    /// <summary>Whether the conversation has more members than sender chains serve (the epoch secret keys it).</summary>
    private async ValueTask<bool> UsesEpochSecretAsync(Guid conversationId, long rosterVersion)
    {
        if (_epochSecret.TryGetValue(conversationId, out var known) && known.RosterVersion == rosterVersion)
        {
            return known.EpochSecret;
        }

        var roster = await keys.GetDistributionRosterAsync(conversationId);
        var epochSecret = UsesEpochSecret(roster);
        _epochSecret[conversationId] = (roster.State.RosterVersion, epochSecret);
        return epochSecret;
    }

    /// <summary>Whether the conversation of <paramref name="roster"/> has more members than sender chains serve.</summary>
    public bool UsesEpochSecret(DistributionRoster roster) => roster.Members.Count > MaxSenderChainMembers;

    private static (ErrorCode, string) Mismatch(Guid conversationId, string why) =>
        (ErrorCode.DistributionMismatch, $"{why}: read GET /v1/conversations/{conversationId}/e2e, upload the missing seeds (POST /v1/conversations/{conversationId}/key-bundles) and send again.");
}
