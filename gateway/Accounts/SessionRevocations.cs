using ChatWire.Gateway.Delivery;
using ChatWire.Gateway.Keys;
using ChatWire.Protocol.Frames;

namespace ChatWire.Gateway.Accounts;

/// <summary>
/// What follows a device session's revocation in the directory (its keys go with it, in the same transaction):
/// every node holding the device's connections closes them with SESSION_REVOKED, and the user's devices hear
/// KEYS_CHANGED device_revoked. The one way every revocation (logout, the user's, a password change, an
/// administrator's) is made known, so none tells one and not the other.
/// </summary>
internal sealed class SessionRevocations(EventPublisher events, KeyChangeAnnouncer keyChanges)
{
    /// <param name="userId">The device's user.</param>
    /// <param name="deviceId">The revoked device.</param>
    /// <param name="announce">False when this request found the session revoked already (another request announced it).</param>
    public async Task PublishAsync(Guid userId, Guid deviceId, bool announce = true)
    {
        await events.PublishRevocationAsync(userId, deviceId);
        if (announce)
        {
            await keyChanges.AnnounceAsync(userId, KeyChange.DeviceRevoked, deviceId);
        }
    }
}
