using ChatWire.Crypto;

namespace ChatWire.Client.Secure;

// One-time prekeys (E2E.md §2): each X3DH to this device (a strict-mode seed, a link payload) consumes one on the
// server. Without them a sender falls back to the signed prekey alone (still authenticated, without the one-time
// key's extra forward secrecy), so the stock is topped up with a new batch when it runs low.
public sealed partial class SecureClient
{
    /// <summary>Below this many one-time prekeys on the server, a new batch is uploaded (docs/e2e.md).</summary>
    public const int PrekeyLowWater = 20;

    /// <summary>
    /// Uploads a new batch of 100 one-time prekeys when the server holds fewer than <see cref="PrekeyLowWater"/> for
    /// this device. Called on setup and after this device opens seeds sealed to it; an app may also call it at start.
    /// Returns how many the server holds afterwards.
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<int> TopUpPrekeysAsync(CancellationToken cancellationToken = default) =>
        WithStoreAsync((store, _) => TopUpPrekeysCoreAsync(store, cancellationToken), cancellationToken);

    private async Task<int> TopUpPrekeysCoreAsync(DeviceKeyStore store, CancellationToken cancellationToken)
    {
        var status = await _api.GetMyDeviceKeysAsync(cancellationToken).ConfigureAwait(false);
        if (status.OneTimePrekeysRemaining >= PrekeyLowWater)
        {
            return status.OneTimePrekeysRemaining;
        }

        // The private halves are written to the store before the public ones leave the device.
        var fresh = store.GenerateOneTimePrekeys(InitialOneTimePrekeys);
        return await _api.UploadOneTimePrekeysAsync([.. fresh.Select(prekey => new OneTimePrekeyInfo(prekey.PrekeyId, prekey.PublicKey))], cancellationToken).ConfigureAwait(false);
    }
}
