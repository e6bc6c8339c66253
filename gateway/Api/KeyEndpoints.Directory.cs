using ChatWire.Gateway.Keys;
using ChatWire.Protocol;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Keys;
using static ChatWire.Gateway.Api.KeyValidation;

namespace ChatWire.Gateway.Api;

// Other users' keys: only for the user themselves and people who share a team with them, the same circle that
// may see their name (GET /v1/users). Anyone else gets 404, whether or not the user exists.
internal static partial class KeyEndpoints
{
    /// <summary>Revoked devices served per user, the most recently revoked first.</summary>
    public const int MaxFormerDevices = 100;

    private static void MapDirectory(RouteGroupBuilder authenticated)
    {
        authenticated.MapGet("/keys/users/{userId}", GetUserKeysAsync)
            .Describe("getUserKeys", "A user's account key, history key, signed device list and devices (team-mates)", Tag,
                "Only the user and people who share a team with them may read it; anyone else gets 404 NOT_FOUND, whether or not the user exists. "
                + "The server verifies no signature: trust only devices on the signed device_list whose certificates verify up to the account key. "
                + "history_key is null after a device revocation until a newer generation is published, and a device in former_devices (up to 100) "
                + "is accepted only as the sealer or signer of what belongs to an earlier epoch.")
            .Returns<UserKeysResponse>().Refuses(400, 404);
        authenticated.MapPost("/keys/users/{userId}/devices/{deviceId}/claim-prekey", ClaimPrekeyAsync)
            .Describe("claimPrekey", "A device's signed prekey and one of its one-time prekeys, handed out once (team-mates)", Tag,
                "The one-time prekey is handed out once only, also to concurrent callers, or null when none is left. The user must be the caller or "
                + "a team-mate, and the device theirs with keys and a signed prekey (404 NOT_FOUND otherwise). Claims are limited per calling user, "
                + "60 a minute by default (429 RATE_LIMITED with Retry-After).")
            .Returns<ClaimedPrekeysResponse>().Refuses(400, 404, 429);
    }

    private static async Task<UserKeysResponse> GetUserKeysAsync(string userId, HttpContext http, IKeyDirectoryStore keys, IDirectoryStore directory, CancellationToken ct)
    {
        var id = Ids.Parse("user_id", userId);
        await RequireVisibleAsync(directory, http.Identity().UserId, id, ct);
        var account = await keys.GetAccountKeyAsync(id, ct);
        var history = await keys.GetHistoryKeyAsync(id, ct);
        var list = await keys.GetDeviceListAsync(id, ct);
        var devices = new List<DeviceKeysInfo>();
        foreach (var device in await keys.ListDeviceKeysAsync(id, ct))
        {
            devices.Add(ToInfo(device, await keys.GetSignedPrekeyAsync(device.DeviceId, ct)));
        }

        var former = await keys.ListFormerDeviceKeysAsync(id, MaxFormerDevices, ct);
        return new UserKeysResponse(
            id,
            account is null ? null : new AccountKeyInfo(Encode(account.SigningKey), account.Version),
            history is null ? null : ToInfo(history),
            await keys.GetHighestHistoryKeyGenerationAsync(id, ct),
            list is null ? null : ToInfo(list),
            devices,
            former.Select(ToInfo).ToList());
    }

    private static async Task<ClaimedPrekeysResponse> ClaimPrekeyAsync(
        string userId, string deviceId, HttpContext http, IKeyDirectoryStore keys, IDirectoryStore directory, PrekeyClaimThrottle throttle, CancellationToken ct)
    {
        var user = Ids.Parse("user_id", userId);
        var device = Ids.Parse("device_id", deviceId);
        var me = http.Identity();

        // Counted before anything is looked up: probing costs the same as claiming.
        throttle.Take(me.UserId);
        await RequireVisibleAsync(directory, me.UserId, user, ct);
        if (await keys.GetDeviceKeysAsync(device, ct) is not { } keyed || keyed.UserId != user)
        {
            throw NoSuchDevice();
        }

        var signed = await keys.GetSignedPrekeyAsync(device, ct)
            ?? throw new RequestRefusedException(ErrorCode.NotFound, "This device has published no signed prekey yet.");
        var oneTime = await keys.ClaimOneTimePrekeyAsync(device, ct);
        return new ClaimedPrekeysResponse(ToInfo(signed), oneTime is null ? null : new OneTimePrekeyInfo(oneTime.PrekeyId, Encode(oneTime.PublicKey)));
    }

    private static async Task RequireVisibleAsync(IDirectoryStore directory, Guid me, Guid other, CancellationToken ct)
    {
        if (me != other && !await directory.ShareTeamAsync(me, other, ct))
        {
            throw new RequestRefusedException(ErrorCode.NotFound, "No team-mate with this id.");
        }
    }

    private static FormerDeviceKeysInfo ToInfo(FormerDeviceKeysRecord former) => new(
        former.Keys.DeviceId,
        Encode(former.Keys.SigningKey),
        Encode(former.Keys.DhKey),
        former.Keys.CreatedAtMs,
        former.Keys.CertificateVersion,
        Encode(former.Keys.SelfSignature),
        Encode(former.Keys.AccountSignature!),
        former.RevokedAt.UtcDateTime);

    private static HistoryKeyInfo ToInfo(HistoryKeyRecord key) => new(key.Generation, Encode(key.PublicKey), Encode(key.Signature));

    private static SignedPrekeyInfo ToInfo(SignedPrekeyRecord prekey) => new(prekey.PrekeyId, Encode(prekey.PublicKey), Encode(prekey.Signature));

    private static DeviceListInfo ToInfo(DeviceListRecord list) =>
        new(list.Version, list.Entries.Select(e => new DeviceListEntryInfo(e.DeviceId, Encode(e.CertificateHash))).ToList(), Encode(list.Signature));

    private static DeviceKeysInfo ToInfo(DeviceKeysRecord device, SignedPrekeyRecord? signed) => new(
        device.DeviceId,
        Encode(device.SigningKey),
        Encode(device.DhKey),
        device.CreatedAtMs,
        device.CertificateVersion,
        Encode(device.SelfSignature),
        device.AccountSignature is null ? null : Encode(device.AccountSignature),
        signed is null ? null : ToInfo(signed));
}
