using ChatWire.Crypto;
using ChatWire.Protocol;

namespace ChatWire.Client.Secure;

// Conversations above max_sender_chain_members (docs/e2e.md "Large conversations", option L2): one epoch secret
// per epoch, distributed once like a chain seed, every sender's chain derived from it and signed by the
// sender's device key, which receivers take from the sender's verified, account-signed device list.
public sealed partial class SecureClient
{
    private readonly Dictionary<(Guid UserId, Guid DeviceId), byte[]> _verifiedDeviceKeys = [];

    // An epoch secret whose distribution the server no longer finds complete: the device that uploaded it seals it
    // again to the current members (the server replaces what it held); any other device cannot add to that
    // distribution, so it stops using the secret and the next attempt makes its own.
    private async Task RepairEpochSecretAsync(
        DeviceKeyStore store, TrustState trust, Guid conversationId, Guid secretId, ErrorCode code, List<string> warnings, CancellationToken cancellationToken)
    {
        if (code == ErrorCode.DistributionMismatch && store.EpochSecretSeed(secretId) is { } secret && secret.SenderDeviceId == store.DeviceId)
        {
            var state = await _api.GetConversationE2eAsync(conversationId, cancellationToken).ConfigureAwait(false);
            if (state.Epoch == secret.Epoch)
            {
                try
                {
                    await DistributeAsync(store, trust, state, secret, warnings, cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (ChatWireException ex) when (ex.Code is ErrorCode.DistributionMismatch or ErrorCode.StaleEpoch or ErrorCode.KeyConflict)
                {
                    // The roster moved again: fall through to a secret of our own on the next attempt.
                }
            }
        }

        store.RetireEpochSecret(secretId);
    }

    // DSKs of devices verified up to their user's account key and on the user's signed list, for epoch-secret
    // envelopes (signed by the device key). Kept for this client's life; a device missing here is fetched again.
    private byte[]? SenderDeviceKey(Guid userId, Guid deviceId)
    {
        lock (_verifiedDeviceKeys)
        {
            return _verifiedDeviceKeys.GetValueOrDefault((userId, deviceId));
        }
    }

    private void RememberDevices(VerifiedUser user)
    {
        lock (_verifiedDeviceKeys)
        {
            foreach (var device in user.Devices)
            {
                _verifiedDeviceKeys[(user.UserId, device.DeviceId)] = device.SigningKey;
            }
        }
    }
}
