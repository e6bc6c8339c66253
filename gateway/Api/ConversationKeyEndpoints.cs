using System.Globalization;
using ChatWire.Gateway.Conversations;
using ChatWire.Gateway.Keys;
using ChatWire.Protocol;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Keys;
using Microsoft.AspNetCore.Http.Features;
using static ChatWire.Gateway.Api.KeyValidation;

namespace ChatWire.Gateway.Api;

// A conversation's end-to-end key state and its sender-chain distributions (docs/http-api.md, "Key directory";
// docs/e2e.md). Members only. The server checks every upload against the conversation's current roster, so a
// SEND can only ever reference a distribution that reached every current member (E2eSendCheck).
internal static class ConversationKeyEndpoints
{
    private const string Tag = "Keys";

    /// <summary>Sealed seeds per upload: a large conversation's distribution comes in chunks.</summary>
    public const int MaxEntriesPerUpload = 200;

    /// <summary>200 seeds of up to a few hundred bytes, in base64 and JSON, pass the API's general 64 KiB.</summary>
    public const long MaxUploadBodyBytes = 512 * 1024;

    public static void Map(RouteGroupBuilder authenticated)
    {
        authenticated.MapGet("/conversations/{conversationId}/e2e", GetStateAsync)
            .Describe("getConversationE2e", "The conversation's epoch, roster version, mode and whom a distribution must cover", Tag,
                "Members only (403 NOT_A_MEMBER). A SEND of end-to-end content must name the current epoch; roster_version moves whenever whom a "
                + "distribution must cover changes, and members says who that is (history mode: each member at history_key_generation; strict mode: "
                + "each listed device). epoch_secret is true above max_sender_chain_members members: one epoch secret per epoch is distributed "
                + "instead of a chain per sender.")
            .Returns<ConversationE2eResponse>().Refuses(400, 403);
        authenticated.MapPut("/conversations/{conversationId}/e2e/mode", SetModeAsync)
            .Describe("setConversationE2eMode", "Switch between history and strict mode (a change starts a new epoch)", Tag,
                "mode is history or strict; a change starts a new epoch (the current mode again changes nothing), and the answer is the state after. "
                + "In a channel only the team's owners and admins may (403 FORBIDDEN), in a DM or group DM any member; non-members get "
                + "403 NOT_A_MEMBER.")
            .Returns<ConversationE2eResponse>().Refuses(400, 403, 415);
        authenticated.MapPost("/conversations/{conversationId}/key-bundles", UploadAsync)
            .Describe("uploadKeyBundles", "Upload sealed seeds of one of my sender chains (up to 200 per call)", Tag,
                "At most 200 entries per call, each recipient once, shaped for the mode (user_id with history_key_generation, or with device_id), "
                + "sealed 1 byte to 2 KiB, the body at most 512 KiB. An epoch that is not the current one is 409 STALE_EPOCH, a recipient that is "
                + "not current refuses the whole call with 409 DISTRIBUTION_MISMATCH (extra, stale), and a chain_id used by another device or epoch "
                + "is 409 KEY_CONFLICT. With final: true, recipients still lacking are 409 DISTRIBUTION_MISMATCH in missing (this call's entries "
                + "were stored), else the distribution is complete for roster_version.")
            .Returns<KeyBundleUploadResponse>().Refuses(400, 403, 409, 413, 415);
        authenticated.MapGet("/conversations/{conversationId}/key-bundles", ListAsync)
            .Describe("listKeyBundles", "Sealed seeds addressed to me (history mode) or this device (strict mode)", Tag,
                "In position order after after (default 0), at most limit (1-500, default 100). Pass next_after as after for the next page; null "
                + "means nothing more for now, so keep the highest position seen and ask again later. Members only (403 NOT_A_MEMBER).")
            .Returns<KeyBundleListResponse>().Refuses(400, 403);
    }

    /// <summary>Before the body is read: key-bundle uploads may be larger than other API requests.</summary>
    public static async Task RaiseUploadLimitAsync(HttpContext context, RequestDelegate next)
    {
        if (HttpMethods.IsPost(context.Request.Method)
            && context.Request.Path.Value?.TrimEnd('/').EndsWith("/key-bundles", StringComparison.OrdinalIgnoreCase) == true
            && context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = MaxUploadBodyBytes;
        }

        await next(context);
    }

    private static async Task<ConversationE2eResponse> GetStateAsync(string conversationId, HttpContext http, IKeyDirectoryStore keys, IDirectoryStore directory, E2eSendCheck e2e, CancellationToken ct)
    {
        var id = Ids.Parse("conversation_id", conversationId);
        await RequireMemberAsync(directory, id, http.Identity().UserId, ct);
        return ToResponse(await keys.GetDistributionRosterAsync(id, ct), e2e);
    }

    private static async Task<ConversationE2eResponse> SetModeAsync(
        string conversationId, SetE2eModeRequest body, HttpContext http, IKeyDirectoryStore keys, IDirectoryStore directory, E2eSendCheck e2e, CancellationToken ct)
    {
        var id = Ids.Parse("conversation_id", conversationId);
        var mode = body.Mode switch
        {
            "history" => E2eMode.History,
            "strict" => E2eMode.Strict,
            _ => throw RequestRefusedException.Validation("mode", "mode must be \"history\" or \"strict\"."),
        };
        var me = http.Identity().UserId;
        var conversation = await RequireMemberAsync(directory, id, me, ct);

        // In a channel the mode is the team's decision (who reads history on new devices); in a DM every member's.
        if (conversation.TeamId is { } teamId
            && await directory.GetTeamMembershipAsync(teamId, me, ct) is not { Role: TeamRole.Owner or TeamRole.Admin })
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "Only the team's owners and admins change a channel's encryption mode.");
        }

        await keys.SetConversationModeAsync(id, mode, ct);
        return ToResponse(await keys.GetDistributionRosterAsync(id, ct), e2e);
    }

    private static async Task<KeyBundleUploadResponse> UploadAsync(
        string conversationId, UploadKeyBundleRequest body, HttpContext http, IKeyDirectoryStore keys, IDirectoryStore directory, TimeProvider time, CancellationToken ct)
    {
        var id = Ids.Parse("conversation_id", conversationId);
        var chainId = Ids.Parse("chain_id", body.ChainId);
        var epoch = Positive("epoch", body.Epoch);
        if (body.Entries is not { Count: <= MaxEntriesPerUpload } items)
        {
            throw RequestRefusedException.Validation("entries", $"entries must hold 0 to {MaxEntriesPerUpload} sealed seeds.");
        }

        var me = http.Identity();
        await RequireMemberAsync(directory, id, me.UserId, ct);
        var roster = await keys.GetDistributionRosterAsync(id, ct);
        if (epoch != roster.State.Epoch)
        {
            throw new RequestRefusedException(ErrorCode.StaleEpoch, string.Create(CultureInfo.InvariantCulture,
                $"epoch is not the conversation's current epoch ({roster.State.Epoch}): start a new sender chain for it."));
        }

        var entries = ReadEntries(items, roster.State.Mode);
        var members = roster.Members.ToDictionary(m => m.UserId);
        var extra = new List<KeyRecipientInfo>();
        var stale = new List<KeyRecipientInfo>();
        foreach (var entry in entries)
        {
            switch (DistributionRules.Check(roster, members, entry.Recipient))
            {
                case DistributionRules.Fault.Extra:
                    extra.Add(ToInfo(entry.Recipient));
                    break;
                case DistributionRules.Fault.Stale:
                    stale.Add(ToInfo(entry.Recipient));
                    break;
            }
        }

        if (extra.Count > 0 || stale.Count > 0)
        {
            throw Mismatch("Some seeds are sealed to recipients that are not current (extra: not a member or not a listed device; stale: an old history key generation). Nothing was stored.", [], extra, stale);
        }

        var outcome = await keys.AppendKeyBundleAsync(id, chainId, me.UserId, me.DeviceId, epoch, roster.State.Mode, entries, time.GetUtcNow(), ct);
        if (outcome == KeyBundleAppendOutcome.ChainConflict)
        {
            throw new RequestRefusedException(ErrorCode.KeyConflict, "This chain_id is already used in this conversation by another device or for another epoch; every sender chain has a fresh id.");
        }

        if (body.Final != true)
        {
            return new KeyBundleUploadResponse(chainId, false, roster.State.RosterVersion);
        }

        var distribution = await keys.GetDistributionAsync(id, chainId, ct)
            ?? throw new RequestRefusedException(ErrorCode.StorageUnavailable, "The distribution could not be read back; retry.");
        var missing = DistributionRules.Required(roster, me.DeviceId).Where(r => !distribution.Recipients.Contains(r)).Select(ToInfo).ToList();
        if (missing.Count > 0)
        {
            throw Mismatch("The distribution does not cover every current recipient yet: seal the seed to the missing ones (this request's seeds were stored).", missing, [], []);
        }

        // Complete for the roster read above: if the roster moved since, the version differs and SENDs are refused.
        await keys.MarkDistributionCompleteAsync(id, chainId, roster.State.RosterVersion, ct);
        return new KeyBundleUploadResponse(chainId, true, roster.State.RosterVersion);
    }

    private static async Task<KeyBundleListResponse> ListAsync(
        string conversationId, string? after, string? limit, HttpContext http, IKeyDirectoryStore keys, IDirectoryStore directory, CancellationToken ct)
    {
        var id = Ids.Parse("conversation_id", conversationId);
        var take = Paging.Limit(limit);
        var from = 0L;
        if (after is not null && (!long.TryParse(after, NumberStyles.None, CultureInfo.InvariantCulture, out from) || from < 0))
        {
            throw RequestRefusedException.Validation("after", "after must be a position: an integer of 0 or more.");
        }

        var me = http.Identity();
        await RequireMemberAsync(directory, id, me.UserId, ct);
        var page = await keys.ListKeyBundleEntriesAsync(id, me.UserId, me.DeviceId, from, take, ct);
        var entries = page.Select(e => new StoredKeyBundleInfo(
            e.Position,
            e.ChainId,
            e.SenderUserId,
            e.SenderDeviceId,
            e.Epoch,
            e.Recipient.UserId,
            e.Recipient.DeviceId == Guid.Empty ? null : e.Recipient.DeviceId,
            e.Recipient.HistoryKeyGeneration == 0 ? null : e.Recipient.HistoryKeyGeneration,
            Encode(e.Sealed),
            e.UploadedAt.UtcDateTime)).ToList();
        return new KeyBundleListResponse(entries, entries.Count == take ? entries[^1].Position : null);
    }

    // History mode names a user at a history key generation; strict mode a device of a user. Mixing them is a
    // malformed request (a client that believed in the other mode would have been refused STALE_EPOCH first).
    private static List<KeyBundleEntry> ReadEntries(IReadOnlyList<KeyBundleEntryItem?> items, E2eMode mode)
    {
        var entries = new List<KeyBundleEntry>(items.Count);
        var seen = new HashSet<KeyRecipient>();
        foreach (var item in items)
        {
            var user = Ids.Parse("user_id", item?.UserId);
            KeyRecipient recipient;
            if (mode == E2eMode.History)
            {
                if (item!.DeviceId is not null)
                {
                    throw RequestRefusedException.Validation("device_id", "This conversation is in history mode: seal seeds to users' history keys (history_key_generation), not to devices.");
                }

                recipient = new KeyRecipient(user, Guid.Empty, Positive("history_key_generation", item.HistoryKeyGeneration));
            }
            else
            {
                if (item!.HistoryKeyGeneration is not null)
                {
                    throw RequestRefusedException.Validation("history_key_generation", "This conversation is in strict mode: seal seeds to devices (device_id), not to history keys.");
                }

                recipient = new KeyRecipient(user, Ids.Parse("device_id", item.DeviceId), 0);
            }

            if (!seen.Add(recipient))
            {
                throw RequestRefusedException.Validation("entries", "Each recipient may appear once per upload.");
            }

            entries.Add(new KeyBundleEntry(recipient, Bounded("sealed", item.Sealed, MaxSealedSeedLength)));
        }

        return entries;
    }

    private static async Task<ConversationRecord> RequireMemberAsync(IDirectoryStore directory, Guid conversationId, Guid userId, CancellationToken ct) =>
        await directory.IsConversationMemberAsync(conversationId, userId, ct) && await directory.GetConversationAsync(conversationId, ct) is { } conversation
            ? conversation
            : throw Validation.NotAMember("conversation");

    private static ConversationE2eResponse ToResponse(DistributionRoster roster, E2eSendCheck e2e) => new(
        roster.State.ConversationId,
        roster.State.Epoch,
        roster.State.RosterVersion,
        ModeName(roster.State.Mode),
        e2e.MaxSenderChainMembers,
        e2e.UsesEpochSecret(roster),
        roster.Members.Select(m => new E2eMemberInfo(m.UserId, m.HistoryKeyGeneration, m.ListedDevices)).ToList());

    /// <summary>A mode as the API names it, in <c>mode</c> of the state and of setConversationE2eMode.</summary>
    public static string ModeName(E2eMode mode) => mode == E2eMode.Strict ? "strict" : "history";

    private static KeyRecipientInfo ToInfo(KeyRecipient r) =>
        new(r.UserId, r.DeviceId == Guid.Empty ? null : r.DeviceId, r.HistoryKeyGeneration == 0 ? null : r.HistoryKeyGeneration);

    private static RequestRefusedException Mismatch(string detail, List<KeyRecipientInfo> missing, List<KeyRecipientInfo> extra, List<KeyRecipientInfo> stale) =>
        new(ErrorCode.DistributionMismatch, detail) { Mismatch = new DistributionMismatch(missing, extra, stale) };
}
