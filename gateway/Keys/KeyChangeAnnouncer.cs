using ChatWire.Gateway.Delivery;
using ChatWire.Protocol.Frames;

namespace ChatWire.Gateway.Keys;

/// <summary>
/// Pushes KEYS_CHANGED (docs/protocol.md §4.28) to every connection of a user, on whichever nodes hold them,
/// after a change to the user's own keys was stored. Best effort, as every pushed frame that is not a stored
/// event: the change is in the key directory already, so a failed announcement is logged, never an error
/// for the request that made the change, and a device that misses it finds the change when it next reads its keys.
/// </summary>
internal sealed class KeyChangeAnnouncer(EventPublisher publisher, ILogger<KeyChangeAnnouncer> logger)
{
    public async Task AnnounceAsync(Guid userId, KeyChange change, Guid deviceId = default)
    {
        try
        {
            await publisher.PublishToUserAsync(userId, new KeysChanged(change, deviceId));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            GatewayLog.KeyChangeAnnounceFailed(logger, userId, change.ToString(), ex);
        }
    }
}
