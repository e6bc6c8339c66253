using ChatWire.Gateway.Hosting;
using ChatWire.Protocol;
using ChatWire.Storage.Directory;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Accounts;

/// <summary>An authenticated device session.</summary>
/// <param name="UserId">The user.</param>
/// <param name="DeviceId">The device the session belongs to.</param>
/// <param name="ExpiresAt">When the session reaches its maximum age, used or not (Auth:SessionMaxAge).</param>
internal sealed record SessionIdentity(Guid UserId, Guid DeviceId, DateTimeOffset ExpiresAt)
{
    public SessionIdentity(Guid userId, Guid deviceId)
        : this(userId, deviceId, DateTimeOffset.MaxValue)
    {
    }
}

/// <summary>Validates session tokens for both the HTTP API and TCP AUTH.</summary>
internal sealed class SessionAuthenticator(IDirectoryStore directory, IOptions<AuthOptions> options, TimeProvider time)
{
    // Touching last-used on every request would turn reads into writes; a minute's precision is plenty
    // for an idle expiry measured in days.
    private static readonly TimeSpan TouchGranularity = TimeSpan.FromMinutes(1);

    private readonly AuthOptions _options = options.Value;

    public async Task<(SessionIdentity? Identity, ErrorCode Error)> AuthenticateAsync(string token, Guid? deviceId, CancellationToken cancellationToken)
    {
        var hash = SessionTokens.Hash(token, SessionTokens.TokenBytes);
        if (hash is null)
        {
            return (null, ErrorCode.InvalidToken);
        }

        var session = await directory.FindSessionByTokenHashAsync(hash, cancellationToken);
        if (session is null || (deviceId is { } expected && expected != session.DeviceId))
        {
            return (null, ErrorCode.InvalidToken);
        }

        if (session.RevokedAt is not null)
        {
            return (null, ErrorCode.SessionRevoked);
        }

        var now = time.GetUtcNow();
        if (now - session.LastUsedAt > _options.SessionIdleTimeout || now - session.CreatedAt > _options.SessionMaxAge)
        {
            return (null, ErrorCode.SessionExpired);
        }

        if (now - session.LastUsedAt > TouchGranularity)
        {
            await directory.TouchDeviceSessionAsync(session.DeviceId, now, cancellationToken);
        }

        return (new SessionIdentity(session.UserId, session.DeviceId, session.CreatedAt + _options.SessionMaxAge), default);
    }

    /// <summary>
    /// An open connection counts as use: its session's idle clock is reset (at most once a minute, like any
    /// use), so a device that stays connected is never logged out for idleness.
    /// </summary>
    public Task TouchAsync(SessionIdentity identity, CancellationToken cancellationToken) =>
        directory.TouchDeviceSessionAsync(identity.DeviceId, time.GetUtcNow(), cancellationToken);

    /// <summary>The sentence a client is told when its token is refused with <paramref name="code"/>.</summary>
    public static string Describe(ErrorCode code) => code switch
    {
        ErrorCode.SessionExpired => "The session has expired; log in again.",
        ErrorCode.SessionRevoked => "The session was revoked; log in again.",
        _ => "The session token is not valid for this device.",
    };

    /// <summary>Whether the device's session is still unrevoked (read again from the store).</summary>
    public async Task<bool> IsStillValidAsync(SessionIdentity identity, CancellationToken cancellationToken) =>
        await directory.GetDeviceSessionAsync(identity.DeviceId, cancellationToken) is { RevokedAt: null };
}
