using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Keys;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Keys;
using static ChatWire.Gateway.Api.KeyValidation;

namespace ChatWire.Gateway.Api;

// The key directory, the caller's own keys (docs/http-api.md, "Key directory"; docs/e2e.md). The server stores
// and serves public keys and sealed blobs; it checks lengths, ownership and versions, never signatures: every
// client verifies each signature up to the account key itself, so a server that skipped a check here could
// still not make a client trust a key. Lookups of other users' keys are in KeyEndpoints.Directory.cs.
internal static partial class KeyEndpoints
{
    private const string Tag = "Keys";

    /// <summary>One-time prekeys per upload, and held per device (docs/e2e.md: batches of 100, topped up below 20).</summary>
    public const int MaxPrekeysPerUpload = 100;

    public const int MaxPrekeysHeld = 1000;

    /// <summary>Devices on one signed device list.</summary>
    public const int MaxListedDevices = 100;

    public static void Map(RouteGroupBuilder authenticated)
    {
        authenticated.MapPut("/keys/account", SetAccountKeyAsync)
            .Describe("setAccountKey", "Register my account signing key, or replace it (an account reset)", Tag,
                "signing_key is 32 bytes in base64; the same key again answers 200. Another key already registered is 409 KEY_CONFLICT unless reset "
                + "is true, which stores it as the next version and at once drops the user's history keys and device list, makes every device "
                + "pending and gives every conversation of the user a new epoch. reset from a pending device while another device is approved is "
                + "403 FORBIDDEN.")
            .Returns<AccountKeyInfo>().Refuses(400, 403, 409, 415);
        authenticated.MapPut("/keys/history-key", AddHistoryKeyAsync)
            .Describe("addHistoryKey", "Publish a new generation of my history key", Tag,
                "generation must be above every generation published before (409 KEY_VERSION_CONFLICT otherwise) and at most 2147483647; public_key "
                + "is 32 bytes and signature 64, in base64, and the server verifies no signature. While the user has an approved device, only an "
                + "approved device may publish (403 FORBIDDEN).")
            .Returns<HistoryKeyInfo>().Refuses(400, 403, 409, 415);
        authenticated.MapPut("/keys/devices/me", RegisterDeviceKeysAsync)
            .Describe("registerDeviceKeys", "Register this device's public keys (once)", Tag,
                "signing_key and dh_key are 32 bytes and self_signature 64, in base64. A device's keys never change: other keys for this device are "
                + "409 KEY_CONFLICT, the same keys again 200. The device is pending until an approved device of the user finds it by the answer's "
                + "link_code (shown as XXXXX-XXXXX) and certifies it.")
            .Returns<DeviceKeysRegisteredResponse>().Refuses(400, 409, 415);
        authenticated.MapGet("/keys/devices/me", GetMyDeviceAsync)
            .Describe("getMyDeviceKeys", "This device's link code, approval and prekey stock", Tag,
                "approved is true once the device's certificate carries an account signature; one_time_prekeys_remaining tells when to upload more, "
                + "and signed_prekey_id which signed prekey is published. 404 NOT_FOUND when this device has registered no keys.")
            .Returns<MyDeviceKeysResponse>().Refuses(404);
        authenticated.MapPut("/keys/devices/me/signed-prekey", SetSignedPrekeyAsync)
            .Describe("setSignedPrekey", "Replace this device's signed prekey", Tag,
                "Replaces the device's previous signed prekey; public_key is 32 bytes and signature 64, in base64, and prekey_id a positive integer. "
                + "404 NOT_FOUND when this device has registered no keys.")
            .Returns<SignedPrekeyInfo>().Refuses(400, 404, 415);
        authenticated.MapPost("/keys/devices/me/one-time-prekeys", AddOneTimePrekeysAsync)
            .Describe("addOneTimePrekeys", "Upload up to 100 one-time prekeys for this device", Tag,
                "prekeys holds 1 to 100 entries, each prekey_id once; an id the device already holds is ignored, so a retried upload does not fail. "
                + "Answers how many the device holds; an upload that would leave more than 1,000 is 403 QUOTA_EXCEEDED, and a device without keys "
                + "404 NOT_FOUND.")
            .Returns<PrekeysRemainingResponse>().Refuses(400, 403, 404, 415);
        authenticated.MapGet("/keys/link/{code}", FindPendingDeviceAsync)
            .Describe("findPendingDevice", "My pending device showing this link code, with its keys", Tag,
                "code in any case, the dash optional. Only the caller's own devices still waiting for approval are found (404 NOT_FOUND otherwise); "
                + "the caller recomputes the link code from the keys answered before it certifies the device, so substituted keys are caught.")
            .Returns<PendingDeviceResponse>().Refuses(404);
        authenticated.MapPut("/keys/devices/{deviceId}/certificate", CertifyDeviceAsync)
            .Describe("certifyDevice", "Store the account signature of one of my devices' certificate", Tag,
                "certificate_version must be the one the device registered (400 VALIDATION_FAILED otherwise), account_signature 64 bytes in base64; "
                + "the server does not verify it. The device must be one of the caller's with keys (404 NOT_FOUND otherwise), and while the user has "
                + "an approved device, a pending caller is 403 FORBIDDEN.")
            .Returns<DeviceKeysInfo>().Refuses(400, 403, 404, 415);
        authenticated.MapPut("/keys/device-list", SetDeviceListAsync)
            .Describe("setDeviceList", "Replace my signed device list (its version only grows)", Tag,
                "version must be above the stored list's (409 KEY_VERSION_CONFLICT otherwise). devices lists at most 100 of the user's own devices "
                + "with keys, each once with its 32-byte certificate_hash; someone else's device, a revoked one or one without keys is "
                + "400 VALIDATION_FAILED. While the user has an approved device, only an approved device may publish it (403 FORBIDDEN).")
            .Returns<DeviceListInfo>().Refuses(400, 403, 409, 415);
        authenticated.MapPut("/keys/devices/{deviceId}/link-payload", SetLinkPayloadAsync)
            .Describe("setLinkPayload", "Leave the sealed link payload for one of my new devices", Tag,
                "payload (1 byte to 32 KiB, base64) is the account and history private keys sealed to the new device; it replaces one still waiting. "
                + "The device must be one of the caller's with keys (404 NOT_FOUND otherwise); to the calling device itself, or from a pending "
                + "device while another is approved, is 403 FORBIDDEN.")
            .ReturnsNoContent().Refuses(400, 403, 404, 415);
        authenticated.MapGet("/keys/link-payload", GetLinkPayloadAsync)
            .Describe("getLinkPayload", "The sealed link payload left for this device", Tag,
                "Left by an approved device of the user when it approved this one (from_device_id), sealed to this device with X3DH: open and check "
                + "it as docs/e2e.md, 'Opening a device-link payload', says. 404 NOT_FOUND while none is waiting.")
            .Returns<LinkPayloadResponse>().Refuses(404);
        authenticated.MapDelete("/keys/link-payload", DeleteLinkPayloadAsync)
            .Describe("deleteLinkPayload", "Drop the link payload left for this device", Tag,
                "Answers 204 whether or not a payload was waiting, so it is safe to repeat. A device's waiting payload is also deleted when its "
                + "session is revoked.")
            .ReturnsNoContent();
        authenticated.MapPut("/keys/recovery-backup", SetRecoveryBackupAsync)
            .Describe("setRecoveryBackup", "Store my recovery backup (private keys sealed under my recovery key)", Tag,
                "backup (1 byte to 32 KiB, base64) is sealed under the user's recovery key, which the server never sees; it replaces an earlier one. "
                + "While the user has an approved device, only an approved device may store it (403 FORBIDDEN).")
            .ReturnsNoContent().Refuses(400, 403, 415);
        authenticated.MapGet("/keys/recovery-backup", GetRecoveryBackupAsync)
            .Describe("getRecoveryBackup", "My recovery backup", Tag,
                "Any device of the user may read it, pending ones included: it opens only with the recovery key, and restores the account and "
                + "history keys on a device that lost the others. 404 NOT_FOUND when none is stored.")
            .Returns<RecoveryBackupResponse>().Refuses(404);
        MapDirectory(authenticated);
    }

    private static async Task<AccountKeyInfo> SetAccountKeyAsync(SetAccountKeyRequest body, HttpContext http, IKeyDirectoryStore keys, KeyChangeAnnouncer announcer, TimeProvider time, CancellationToken ct)
    {
        var key = Exact("signing_key", body.SigningKey, KeyLength);
        if (body.Reset == true)
        {
            // A reset makes every device pending: one that only knows the password must not be able to do it
            // while an approved device exists (it would then certify itself).
            await RequireApprovedAsync(keys, http.Identity(), ct);
        }

        var stored = await keys.SetAccountKeyAsync(http.Identity().UserId, key, body.Reset == true, time.GetUtcNow(), ct);
        if (!stored.SigningKey.AsSpan().SequenceEqual(key))
        {
            throw new RequestRefusedException(ErrorCode.KeyConflict, "Another account key is registered. Replacing it is an account reset (send reset: true): every device becomes pending and every conversation gets a new epoch.");
        }

        await announcer.AnnounceAsync(http.Identity().UserId, KeyChange.AccountKey);
        return new AccountKeyInfo(Encode(stored.SigningKey), stored.Version);
    }

    private static async Task<HistoryKeyInfo> AddHistoryKeyAsync(AddHistoryKeyRequest body, HttpContext http, IKeyDirectoryStore keys, KeyChangeAnnouncer announcer, TimeProvider time, CancellationToken ct)
    {
        await RequireApprovedAsync(keys, http.Identity(), ct);
        var record = new HistoryKeyRecord(
            http.Identity().UserId,
            Positive("generation", body.Generation),
            Exact("public_key", body.PublicKey, KeyLength),
            Exact("signature", body.Signature, SignatureLength),
            time.GetUtcNow());
        if (!await keys.AddHistoryKeyAsync(record, ct))
        {
            throw new RequestRefusedException(ErrorCode.KeyVersionConflict, "generation must be above every history key generation published before.");
        }

        await announcer.AnnounceAsync(record.UserId, KeyChange.HistoryKey);
        return ToInfo(record);
    }

    private static async Task<DeviceKeysRegisteredResponse> RegisterDeviceKeysAsync(RegisterDeviceKeysRequest body, HttpContext http, IKeyDirectoryStore keys, KeyChangeAnnouncer announcer, CancellationToken ct)
    {
        var me = http.Identity();
        var signingKey = Exact("signing_key", body.SigningKey, KeyLength);
        var dhKey = Exact("dh_key", body.DhKey, KeyLength);
        var createdAt = Positive("created_at_ms", body.CreatedAtMs);
        var version = Positive("certificate_version", body.CertificateVersion);
        var selfSignature = Exact("self_signature", body.SelfSignature, SignatureLength);
        var code = LinkCode.Compute(me.UserId, me.DeviceId, signingKey, dhKey);
        var record = new DeviceKeysRecord(me.DeviceId, me.UserId, signingKey, dhKey, createdAt, selfSignature, code, version, AccountSignature: null);
        if (!await keys.SetDeviceKeysAsync(record, ct))
        {
            throw new RequestRefusedException(ErrorCode.KeyConflict, "This device already registered other keys; a device's keys never change (log in as a new device instead).");
        }

        await announcer.AnnounceAsync(me.UserId, KeyChange.DeviceRegistered, me.DeviceId);
        return new DeviceKeysRegisteredResponse(me.DeviceId, code);
    }

    private static async Task<MyDeviceKeysResponse> GetMyDeviceAsync(HttpContext http, IKeyDirectoryStore keys, CancellationToken ct)
    {
        var me = http.Identity();
        var device = await RequireOwnKeysAsync(keys, me.DeviceId, ct);
        var remaining = await keys.CountOneTimePrekeysAsync(me.DeviceId, ct);
        var signed = await keys.GetSignedPrekeyAsync(me.DeviceId, ct);
        return new MyDeviceKeysResponse(device.DeviceId, device.LinkCode, device.AccountSignature is not null, remaining, signed?.PrekeyId);
    }

    private static async Task<SignedPrekeyInfo> SetSignedPrekeyAsync(SignedPrekeyRequest body, HttpContext http, IKeyDirectoryStore keys, TimeProvider time, CancellationToken ct)
    {
        var me = http.Identity();
        var record = new SignedPrekeyRecord(
            me.DeviceId,
            Positive("prekey_id", body.PrekeyId),
            Exact("public_key", body.PublicKey, KeyLength),
            Exact("signature", body.Signature, SignatureLength),
            time.GetUtcNow());
        await RequireOwnKeysAsync(keys, me.DeviceId, ct);
        await keys.SetSignedPrekeyAsync(record, ct);
        return ToInfo(record);
    }

    private static async Task<PrekeysRemainingResponse> AddOneTimePrekeysAsync(OneTimePrekeysRequest body, HttpContext http, IKeyDirectoryStore keys, CancellationToken ct)
    {
        var me = http.Identity();
        if (body.Prekeys is not { Count: > 0 and <= MaxPrekeysPerUpload } items)
        {
            throw RequestRefusedException.Validation("prekeys", $"prekeys must hold 1 to {MaxPrekeysPerUpload} prekeys.");
        }

        var prekeys = new List<OneTimePrekeyRecord>(items.Count);
        var ids = new HashSet<int>();
        foreach (var item in items)
        {
            var id = Positive("prekey_id", item?.PrekeyId);
            if (!ids.Add(id))
            {
                throw RequestRefusedException.Validation("prekey_id", "Each prekey_id may appear once per upload.");
            }

            prekeys.Add(new OneTimePrekeyRecord(id, Exact("public_key", item!.PublicKey, KeyLength)));
        }

        await RequireOwnKeysAsync(keys, me.DeviceId, ct);
        return await keys.AddOneTimePrekeysAsync(me.DeviceId, prekeys, MaxPrekeysHeld, ct) is { } remaining
            ? new PrekeysRemainingResponse(remaining)
            : throw new RequestRefusedException(ErrorCode.QuotaExceeded, $"A device holds at most {MaxPrekeysHeld} one-time prekeys; upload more when it runs low.");
    }

    // Only the caller's own devices that are still pending: the code identifies a device to approve, not a user.
    private static async Task<PendingDeviceResponse> FindPendingDeviceAsync(string code, HttpContext http, IKeyDirectoryStore keys, IDirectoryStore directory, CancellationToken ct)
    {
        var me = http.Identity();
        if (LinkCode.Normalize(code) is not { } normalized
            || await keys.FindDeviceByLinkCodeAsync(me.UserId, normalized, ct) is not { AccountSignature: null } device)
        {
            throw new RequestRefusedException(ErrorCode.NotFound, "None of your devices waiting for approval shows this link code.");
        }

        var session = await directory.GetDeviceSessionAsync(device.DeviceId, ct);
        return new PendingDeviceResponse(
            device.DeviceId, session?.DeviceName ?? "device", Encode(device.SigningKey), Encode(device.DhKey), device.CreatedAtMs, device.CertificateVersion, Encode(device.SelfSignature));
    }

    private static async Task<DeviceKeysInfo> CertifyDeviceAsync(string deviceId, DeviceCertificateRequest body, HttpContext http, IKeyDirectoryStore keys, CancellationToken ct)
    {
        var id = Ids.Parse("device_id", deviceId);
        var version = Positive("certificate_version", body.CertificateVersion);
        var signature = Exact("account_signature", body.AccountSignature, SignatureLength);
        var me = http.Identity();
        var device = await RequireUsersDeviceAsync(keys, me.UserId, id, ct);
        await RequireApprovedAsync(keys, me, ct);
        if (version != device.CertificateVersion)
        {
            throw RequestRefusedException.Validation("certificate_version", $"certificate_version must be the one the device registered ({device.CertificateVersion}).");
        }

        if (!await keys.SetDeviceCertificateAsync(id, version, signature, ct))
        {
            throw NoSuchDevice();
        }

        return ToInfo(device with { AccountSignature = signature }, await keys.GetSignedPrekeyAsync(id, ct));
    }

    private static async Task<DeviceListInfo> SetDeviceListAsync(SetDeviceListRequest body, HttpContext http, IKeyDirectoryStore keys, KeyChangeAnnouncer announcer, TimeProvider time, CancellationToken ct)
    {
        var me = http.Identity();
        var version = Positive("version", body.Version);
        var signature = Exact("signature", body.Signature, SignatureLength);
        await RequireApprovedAsync(keys, me, ct);
        if (body.Devices is not { Count: <= MaxListedDevices } items)
        {
            throw RequestRefusedException.Validation("devices", $"devices must list 0 to {MaxListedDevices} devices.");
        }

        var entries = new List<DeviceListEntry>(items.Count);
        foreach (var item in items)
        {
            var id = Ids.Parse("device_id", item?.DeviceId);
            if (entries.Exists(e => e.DeviceId == id))
            {
                throw RequestRefusedException.Validation("devices", "Each device may be listed once.");
            }

            entries.Add(new DeviceListEntry(id, Exact("certificate_hash", item!.CertificateHash, HashLength)));
        }

        // A listed device gets every seed sealed to the user's devices: only the user's own, live, keyed devices qualify.
        foreach (var entry in entries)
        {
            if (await keys.GetDeviceKeysAsync(entry.DeviceId, ct) is not { } device || device.UserId != me.UserId)
            {
                throw RequestRefusedException.Validation("devices", $"Device {entry.DeviceId} is not one of your devices with registered keys (or it was revoked).");
            }
        }

        var list = new DeviceListRecord(me.UserId, version, entries, signature, time.GetUtcNow());
        if (!await keys.SetDeviceListAsync(list, ct))
        {
            throw new RequestRefusedException(ErrorCode.KeyVersionConflict, "version must be above the stored device list's version.");
        }

        await announcer.AnnounceAsync(me.UserId, KeyChange.DeviceList);
        return ToInfo(list);
    }

    private static async Task<IResult> SetLinkPayloadAsync(string deviceId, LinkPayloadRequest body, HttpContext http, IKeyDirectoryStore keys, KeyChangeAnnouncer announcer, TimeProvider time, CancellationToken ct)
    {
        var me = http.Identity();
        var id = Ids.Parse("device_id", deviceId);
        var payload = Bounded("payload", body.Payload, MaxLinkPayloadLength);
        await RequireUsersDeviceAsync(keys, me.UserId, id, ct);
        if (id == me.DeviceId)
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "A link payload is left by another, approved device of yours for the new one.");
        }

        await RequireApprovedAsync(keys, me, ct);
        await keys.SetLinkPayloadAsync(id, me.DeviceId, payload, time.GetUtcNow(), ct);
        await announcer.AnnounceAsync(me.UserId, KeyChange.LinkPayload, id);
        return Results.NoContent();
    }

    private static async Task<LinkPayloadResponse> GetLinkPayloadAsync(HttpContext http, IKeyDirectoryStore keys, CancellationToken ct) =>
        await keys.GetLinkPayloadAsync(http.Identity().DeviceId, ct) is { } found
            ? new LinkPayloadResponse(found.FromDeviceId, Encode(found.Payload))
            : throw new RequestRefusedException(ErrorCode.NotFound, "No link payload is waiting for this device.");

    private static async Task<IResult> DeleteLinkPayloadAsync(HttpContext http, IKeyDirectoryStore keys, CancellationToken ct)
    {
        await keys.DeleteLinkPayloadAsync(http.Identity().DeviceId, ct);
        return Results.NoContent();
    }

    private static async Task<IResult> SetRecoveryBackupAsync(RecoveryBackupRequest body, HttpContext http, IKeyDirectoryStore keys, TimeProvider time, CancellationToken ct)
    {
        var backup = Bounded("backup", body.Backup, MaxRecoveryBackupLength);
        await RequireApprovedAsync(keys, http.Identity(), ct);
        await keys.SetRecoveryBackupAsync(http.Identity().UserId, backup, time.GetUtcNow(), ct);
        return Results.NoContent();
    }

    private static async Task<RecoveryBackupResponse> GetRecoveryBackupAsync(HttpContext http, IKeyDirectoryStore keys, CancellationToken ct) =>
        await keys.GetRecoveryBackupAsync(http.Identity().UserId, ct) is { } backup
            ? new RecoveryBackupResponse(Encode(backup))
            : throw new RequestRefusedException(ErrorCode.NotFound, "No recovery backup is stored.");

    private static async Task<DeviceKeysRecord> RequireOwnKeysAsync(IKeyDirectoryStore keys, Guid deviceId, CancellationToken ct) =>
        await keys.GetDeviceKeysAsync(deviceId, ct)
            ?? throw new RequestRefusedException(ErrorCode.NotFound, "This device has registered no keys: PUT /v1/keys/devices/me first.");

    private static async Task<DeviceKeysRecord> RequireUsersDeviceAsync(IKeyDirectoryStore keys, Guid userId, Guid deviceId, CancellationToken ct) =>
        await keys.GetDeviceKeysAsync(deviceId, ct) is { } device && device.UserId == userId ? device : throw NoSuchDevice();

    // While the user has an approved device, only approved devices manage the user's keys. A pending device needs
    // no more than the password to exist; left free it could approve itself, overwrite the recovery backup, or
    // push the device list version or history key generation to the top of their range so that every later
    // real one is refused as not above it. Signatures would not stop it: the server checks none. Before any
    // device is approved (the first device, or after an account reset made every device pending) any may.
    private static async Task RequireApprovedAsync(IKeyDirectoryStore keys, SessionIdentity me, CancellationToken ct)
    {
        var devices = await keys.ListDeviceKeysAsync(me.UserId, ct);
        if (devices.Any(d => d.AccountSignature is not null) && !devices.Any(d => d.DeviceId == me.DeviceId && d.AccountSignature is not null))
        {
            throw new RequestRefusedException(ErrorCode.Forbidden, "This device is pending approval: approve it from one of your approved devices first.");
        }
    }

    private static RequestRefusedException NoSuchDevice() =>
        new(ErrorCode.NotFound, "No such device with registered keys (or it was revoked).");
}
