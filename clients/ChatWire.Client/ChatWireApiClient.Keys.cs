using System.Net;
using System.Text.Json;
using ChatWire.Client.Internal;

namespace ChatWire.Client;

// The key directory endpoints (docs/http-api.md, "Key directory"): public key material only. The client checks
// every signature itself; these methods only move bytes.
public sealed partial class ChatWireApiClient
{
    /// <summary><c>PUT /v1/keys/account</c>: sets my account signing key (a different one only with <paramref name="reset"/>).</summary>
    /// <param name="signingKey">The Ed25519 public key.</param>
    /// <param name="reset">Replaces an existing different key (account reset); otherwise that is <c>KEY_CONFLICT</c>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<AccountKeyInfo> PutAccountKeyAsync(byte[] signingKey, bool reset = false, CancellationToken cancellationToken = default) =>
        SendAsync<AccountKeyInfo>(HttpMethod.Put, "v1/keys/account", new AccountKeyBody(signingKey, reset ? true : null), authenticated: true, cancellationToken);

    /// <summary><c>PUT /v1/keys/history-key</c>: publishes a new history key generation (above the highest, else <c>KEY_VERSION_CONFLICT</c>).</summary>
    /// <param name="historyKey">The generation, public key and account-key signature.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task PutHistoryKeyAsync(HistoryKeyInfo historyKey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(historyKey);
        return SendAsync(HttpMethod.Put, "v1/keys/history-key", historyKey, cancellationToken);
    }

    /// <summary><c>PUT /v1/keys/devices/me</c>: registers this device's keys (again with the same keys: the same answer).</summary>
    /// <param name="keys">The device keys and self-signature.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<DeviceRegistration> PutMyDeviceKeysAsync(DeviceKeysRequest keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return SendAsync<DeviceRegistration>(HttpMethod.Put, "v1/keys/devices/me", keys, authenticated: true, cancellationToken);
    }

    /// <summary><c>GET /v1/keys/devices/me</c>: this device's link code, approval and prekey stock.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<DeviceKeyStatus> GetMyDeviceKeysAsync(CancellationToken cancellationToken = default) =>
        SendAsync<DeviceKeyStatus>(HttpMethod.Get, "v1/keys/devices/me", body: null, authenticated: true, cancellationToken);

    /// <summary><c>PUT /v1/keys/devices/me/signed-prekey</c>: replaces this device's signed prekey.</summary>
    /// <param name="prekey">The signed prekey.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task PutSignedPrekeyAsync(SignedPrekeyInfo prekey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prekey);
        return SendAsync(HttpMethod.Put, "v1/keys/devices/me/signed-prekey", prekey, cancellationToken);
    }

    /// <summary><c>POST /v1/keys/devices/me/one-time-prekeys</c>: adds up to 100 one-time prekeys; returns how many the server holds.</summary>
    /// <param name="prekeys">1–100 prekeys.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<int> UploadOneTimePrekeysAsync(IReadOnlyList<OneTimePrekeyInfo> prekeys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prekeys);
        var result = await SendAsync<RemainingPrekeys>(HttpMethod.Post, "v1/keys/devices/me/one-time-prekeys", new OneTimePrekeysBody(prekeys), authenticated: true, cancellationToken).ConfigureAwait(false);
        return result.Remaining;
    }

    /// <summary><c>GET /v1/keys/link/{code}</c>: my pending device with this link code (<c>NOT_FOUND</c> otherwise).</summary>
    /// <param name="linkCode">The code, with or without its dash.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<PendingDevice> GetPendingDeviceAsync(string linkCode, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(linkCode);
        var code = linkCode.Replace("-", string.Empty, StringComparison.Ordinal);
        return SendAsync<PendingDevice>(HttpMethod.Get, $"v1/keys/link/{Uri.EscapeDataString(code)}", body: null, authenticated: true, cancellationToken);
    }

    /// <summary><c>PUT /v1/keys/devices/{device_id}/certificate</c>: approves another device of mine with the account key's signature.</summary>
    /// <param name="deviceId">The device.</param>
    /// <param name="certificateVersion">The certificate version signed.</param>
    /// <param name="accountSignature">The account key's signature over its certificate body.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task PutDeviceCertificateAsync(Guid deviceId, uint certificateVersion, byte[] accountSignature, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Put, $"v1/keys/devices/{deviceId:D}/certificate", new CertificateBody(certificateVersion, accountSignature), cancellationToken);

    /// <summary><c>PUT /v1/keys/device-list</c>: publishes my signed device list (version above the current, else <c>KEY_VERSION_CONFLICT</c>).</summary>
    /// <param name="deviceList">The list and its signature.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task PutDeviceListAsync(DeviceListInfo deviceList, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deviceList);
        return SendAsync(HttpMethod.Put, "v1/keys/device-list", deviceList, cancellationToken);
    }

    /// <summary><c>PUT /v1/keys/devices/{device_id}/link-payload</c>: leaves the sealed link payload for a device of mine.</summary>
    /// <param name="deviceId">The new device.</param>
    /// <param name="payload">The payload, sealed to it.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task PutLinkPayloadAsync(Guid deviceId, byte[] payload, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Put, $"v1/keys/devices/{deviceId:D}/link-payload", new LinkPayloadBody(payload), cancellationToken);

    /// <summary><c>GET /v1/keys/link-payload</c>: the payload left for this device, or <see langword="null"/> when there is none yet.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<LinkPayload?> GetLinkPayloadAsync(CancellationToken cancellationToken = default) =>
        OrNullWhenNotFoundAsync(SendAsync<LinkPayload>(HttpMethod.Get, "v1/keys/link-payload", body: null, authenticated: true, cancellationToken));

    /// <summary><c>DELETE /v1/keys/link-payload</c>: drops this device's link payload once it is stored.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task DeleteLinkPayloadAsync(CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, "v1/keys/link-payload", body: null, cancellationToken);

    /// <summary><c>PUT /v1/keys/recovery-backup</c>: stores my recovery backup (sealed under the recovery key).</summary>
    /// <param name="backup">The sealed backup.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task PutRecoveryBackupAsync(byte[] backup, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Put, "v1/keys/recovery-backup", new RecoveryBackupBody(backup), cancellationToken);

    /// <summary><c>GET /v1/keys/recovery-backup</c>: my recovery backup, or <see langword="null"/> when I have none.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<byte[]?> GetRecoveryBackupAsync(CancellationToken cancellationToken = default) =>
        (await OrNullWhenNotFoundAsync(SendAsync<RecoveryBackupBody>(HttpMethod.Get, "v1/keys/recovery-backup", body: null, authenticated: true, cancellationToken)).ConfigureAwait(false))?.Backup;

    /// <summary><c>GET /v1/keys/users/{user_id}</c>: a user's public keys (myself or a team-mate; <c>NOT_FOUND</c> otherwise).</summary>
    /// <param name="userId">The user.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<UserKeys> GetUserKeysAsync(Guid userId, CancellationToken cancellationToken = default) =>
        SendAsync<UserKeys>(HttpMethod.Get, $"v1/keys/users/{userId:D}", body: null, authenticated: true, cancellationToken);

    /// <summary><c>POST /v1/keys/users/{user_id}/devices/{device_id}/claim-prekey</c>: a device's signed prekey and one one-time prekey.</summary>
    /// <param name="userId">The device's user.</param>
    /// <param name="deviceId">The device.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<ClaimedPrekeys> ClaimPrekeyAsync(Guid userId, Guid deviceId, CancellationToken cancellationToken = default) =>
        SendAsync<ClaimedPrekeys>(HttpMethod.Post, $"v1/keys/users/{userId:D}/devices/{deviceId:D}/claim-prekey", body: null, authenticated: true, cancellationToken);

    /// <summary><c>GET /v1/conversations/{id}/e2e</c>: the epoch, mode and recipients of a conversation I am in.</summary>
    /// <param name="conversationId">The conversation.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<ConversationE2e> GetConversationE2eAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        SendAsync<ConversationE2e>(HttpMethod.Get, $"v1/conversations/{conversationId:D}/e2e", body: null, authenticated: true, cancellationToken);

    /// <summary><c>PUT /v1/conversations/{id}/e2e/mode</c>: switches between <c>history</c> and <c>strict</c> (bumps the epoch).</summary>
    /// <param name="conversationId">The conversation.</param>
    /// <param name="mode"><c>history</c> or <c>strict</c>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<ConversationE2e> SetConversationE2eModeAsync(Guid conversationId, string mode, CancellationToken cancellationToken = default) =>
        SendAsync<ConversationE2e>(HttpMethod.Put, $"v1/conversations/{conversationId:D}/e2e/mode", new E2eModeBody(mode), authenticated: true, cancellationToken);

    /// <summary>
    /// <c>POST /v1/conversations/{id}/key-bundles</c>: one chunk (≤ 200 entries) of a chain's distribution. A refusal
    /// is <c>STALE_EPOCH</c> or <c>DISTRIBUTION_MISMATCH</c>; <see cref="ReadDistributionMismatch"/> reads its lists.
    /// </summary>
    /// <param name="conversationId">The conversation.</param>
    /// <param name="upload">The chunk.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<KeyBundleResult> UploadKeyBundlesAsync(Guid conversationId, KeyBundleUpload upload, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(upload);
        return SendAsync<KeyBundleResult>(HttpMethod.Post, $"v1/conversations/{conversationId:D}/key-bundles", upload, authenticated: true, cancellationToken);
    }

    /// <summary><c>GET /v1/conversations/{id}/key-bundles</c>: one page of the sealed seeds addressed to me (history) or this device (strict).</summary>
    /// <param name="conversationId">The conversation.</param>
    /// <param name="after">The position to start after; 0 from the beginning.</param>
    /// <param name="limit">Entries per page; the server's default when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<KeyBundlePage> GetKeyBundlesAsync(Guid conversationId, long after = 0, int? limit = null, CancellationToken cancellationToken = default)
    {
        var path = FormattableString.Invariant($"v1/conversations/{conversationId:D}/key-bundles?after={after}") +
            (limit is { } count ? FormattableString.Invariant($"&limit={count}") : string.Empty);
        return SendAsync<KeyBundlePage>(HttpMethod.Get, path, body: null, authenticated: true, cancellationToken);
    }

    /// <summary>The <c>missing</c>, <c>extra</c> and <c>stale</c> lists of a <c>DISTRIBUTION_MISMATCH</c> refusal (empty lists when absent).</summary>
    /// <param name="exception">The refusal.</param>
    public static DistributionMismatch ReadDistributionMismatch(ChatWireException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var body = exception.Problem is { } problem ? problem.Deserialize<DistributionMismatchBody>(ApiJson.Options) : null;
        return new DistributionMismatch(body?.Missing ?? [], body?.Extra ?? [], body?.Stale ?? []);
    }

    private static async Task<T?> OrNullWhenNotFoundAsync<T>(Task<T> call)
        where T : class
    {
        try
        {
            return await call.ConfigureAwait(false);
        }
        catch (ChatWireException ex) when (ex.HttpStatus == (int)HttpStatusCode.NotFound)
        {
            return null;
        }
    }
}
