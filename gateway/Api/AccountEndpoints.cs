using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Hosting;
using ChatWire.Protocol;
using ChatWire.Storage.Directory;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Api;

internal static class AccountEndpoints
{
    private const string Tag = "Accounts";

    /// <summary>User ids one GET /v1/users may name.</summary>
    public const int MaxUserIds = 100;

    public static void Map(RouteGroupBuilder anonymous, RouteGroupBuilder authenticated)
    {
        anonymous.MapPost("/accounts/signup", SignupAsync)
            .Describe("signup", "Create an account and log this device in", Tag,
                "No authentication. The username (3-32 characters of a-z 0-9 . _ -) is trimmed and folded to lower case, and a taken one is "
                + "409 ALREADY_EXISTS; the password needs at least 8 characters, must not contain the username and must not be a common password. "
                + "Throttled per client address (429 RATE_LIMITED); 429, 503 SERVER_BUSY and 503 SHUTTING_DOWN (a draining node) carry Retry-After.")
            .Returns<SessionCreatedResponse>(StatusCodes.Status201Created).Refuses(400, 409, 415, 429, 503);
        anonymous.MapPost("/accounts/login", LoginAsync)
            .Describe("login", "Log a new device in", Tag,
                "No authentication; the username is matched case-insensitively, and every login creates a new device with its own session_token. An "
                + "unknown user and a wrong password get the same 401 INVALID_CREDENTIALS, and an account the operator disabled is "
                + "403 ACCOUNT_DISABLED (only after the password checked). Throttled per address and per account (429 RATE_LIMITED); 429 and 503 "
                + "carry Retry-After, and 503 SHUTTING_DOWN means log in on another node.")
            .Returns<SessionCreatedResponse>().Refuses(400, 401, 403, 415, 429, 503);
        authenticated.MapGet("/me", GetMeAsync)
            .Describe("getMe", "Who this token belongs to", Tag,
                "The user and the device (session) the bearer token belongs to. A 401 here (NOT_AUTHENTICATED, INVALID_TOKEN, SESSION_EXPIRED or "
                + "SESSION_REVOKED) means the stored token is no longer usable: log in again.")
            .Returns<MeResponse>();
        authenticated.MapGet("/users", GetUsersAsync)
            .Describe("getUsers", "Names of users I share a team with, by id (at most 100)", Tag,
                "ids is a comma-separated list of 1 to 100 user ids; none, more, or one that is not a UUID is 400 VALIDATION_FAILED. Only the caller "
                + "and people who share a team with the caller are listed, and other ids are left out whether or not they exist; a deleted account "
                + "is listed to anyone with deleted: true (show it as 'Deleted account').")
            .Returns<UserListResponse>().Refuses(400);
        authenticated.MapPost("/accounts/logout", LogoutAsync)
            .Describe("logout", "Revoke this device's session", Tag,
                "Revokes the session of the token used, and with it the device's end-to-end keys and push registration; the device's open TCP "
                + "connections close with SESSION_REVOKED. Logging in again makes a new device.")
            .ReturnsNoContent();
        authenticated.MapPost("/accounts/password", ChangePasswordAsync)
            .Describe("changePassword", "Change my password and revoke every other session", Tag,
                "new_password follows the sign-up rules. A wrong current_password is 401 INVALID_CREDENTIALS, which leaves this session valid (do "
                + "not log the user out on it). Every other session of the user is revoked, with its device's keys and push registration; throttled "
                + "per address and per user (429 RATE_LIMITED with Retry-After).")
            .ReturnsNoContent().Refuses(400, 415, 429, 503);
        authenticated.MapGet("/sessions", ListSessionsAsync)
            .Describe("listSessions", "List my device sessions", Tag,
                "The user's sessions that are not revoked, one per logged-in device; current marks the one making this call and last_used_at is kept "
                + "to the minute. Paged in device id order: limit 1-500 (default 100), and next_cursor as cursor for the next page until it is null.")
            .Returns<SessionListResponse>().Refuses(400);
        authenticated.MapDelete("/sessions/{deviceId}", RevokeSessionAsync)
            .Describe("revokeSession", "Revoke one of my device sessions", Tag,
                "Also deletes that device's end-to-end keys, prekeys, waiting link payload and push registration: the user's history key stops being "
                + "usable until a newer generation is published, and every conversation of the user gets a new epoch. The device's open TCP "
                + "connections close with SESSION_REVOKED within moments; a device that is not the caller's, or is already revoked, is "
                + "404 NOT_FOUND.")
            .ReturnsNoContent().Refuses(400, 404);
        authenticated.MapDelete("/sessions", RevokeAllSessionsAsync)
            .Describe("revokeAllSessions", "Revoke all my device sessions, this one included", Tag,
                "Every device of the user is signed out, the calling one included, and loses its end-to-end keys and push registration; their open "
                + "TCP connections close with SESSION_REVOKED. This token stops working too: log in again.")
            .ReturnsNoContent();
    }

    private static async Task<IResult> SignupAsync(
        SignupRequest body, HttpContext http, IDirectoryStore directory, PasswordHasher hasher,
        IOptions<AuthOptions> options, TimeProvider time, Observability.AuditLog audit, CancellationToken ct)
    {
        // The address's attempt was counted before the body was read (AccountRequestGate).
        var username = Validation.Username(body.Username);
        var password = Validation.Password("password", body.Password, username);
        var displayName = body.DisplayName is null ? username : Validation.DisplayText("display_name", body.DisplayName);
        var deviceName = body.DeviceName is null ? "device" : Validation.DisplayText("device_name", body.DeviceName);
        if (await directory.FindUserByNameAsync(username, ct) is not null)
        {
            throw new RequestRefusedException(ErrorCode.AlreadyExists, "That username is taken.");
        }

        // A display name that is someone else's username would let one person pass for another.
        if (!string.Equals(displayName, username, StringComparison.OrdinalIgnoreCase)
            && await directory.FindUserByNameAsync(displayName.ToLowerInvariant(), ct) is not null)
        {
            throw RequestRefusedException.Validation("display_name", "display_name must not be another user's username.");
        }

        var user = new UserRecord(Guid.CreateVersion7(), username, displayName, await hasher.HashAsync(password, http.ClientKey(), ct), time.GetUtcNow());
        try
        {
            await directory.CreateUserAsync(user, ct);
        }
        catch (DuplicateKeyException)
        {
            throw new RequestRefusedException(ErrorCode.AlreadyExists, "That username is taken.");
        }

        var created = await CreateSessionAsync(directory, user, deviceName, options.Value, time, ct);
        audit.SignedUp(user.Id, created.DeviceId, http.ClientAddress());
        return Results.Json(created, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<SessionCreatedResponse> LoginAsync(
        LoginRequest body, HttpContext http, IDirectoryStore directory, IAccountAdminStore admin, PasswordHasher hasher, AttemptThrottle throttle,
        IOptions<AuthOptions> options, TimeProvider time, Observability.AuditLog audit, CancellationToken ct)
    {
        var username = Validation.Required("username", body.Username).Trim().ToLowerInvariant();
        var password = Validation.PasswordToCheck("password", body.Password);
        if (username.Length > Validation.MaxLoginUsernameLength && username.EnumerateRunes().Count() > Validation.MaxLoginUsernameLength)
        {
            throw RequestRefusedException.Validation("username", $"username must be at most {Validation.MaxLoginUsernameLength} characters.");
        }

        throttle.CheckAccount("login", http.ClientAddress(), username);
        var deviceName = body.DeviceName is null ? "device" : Validation.DisplayText("device_name", body.DeviceName);

        // Unknown user and wrong password answer alike, after the same work; a deleted account (a tombstone, its
        // password hash empty) is unknown.
        var user = await directory.FindUserByNameAsync(username, ct);
        var state = user is null ? null : await admin.GetUserAdminAsync(user.Id, ct);
        if (user is null || state?.DeletedAt is not null)
        {
            await hasher.BurnAsync(password, http.ClientKey(), ct);
            audit.LoginFailed(null, http.ClientAddress());
            throw InvalidCredentials();
        }

        var (valid, needsRehash) = await hasher.VerifyAsync(password, user.PasswordHash, http.ClientKey(), ct);
        if (!valid)
        {
            audit.LoginFailed(user.Id, http.ClientAddress());
            throw InvalidCredentials();
        }

        // Only to someone who knows the password: that the account exists and is disabled.
        if (state?.DisabledAt is not null)
        {
            throw AccountDisabled();
        }

        var verifiedHash = user.PasswordHash;
        if (needsRehash)
        {
            verifiedHash = await hasher.HashAsync(password, http.ClientKey(), ct);
            await directory.UpdatePasswordHashAsync(user.Id, verifiedHash, ct);
        }

        var session = await CreateSessionAsync(directory, user, deviceName, options.Value, time, ct);

        // An operator's disable or delete, or a password change, may have run between the checks above and the new
        // session: it ended the sessions that existed then, not this one. Read again from the primary; whatever
        // ran after this read sees the new session and ends it too.
        var current = await admin.GetUserAdminAsync(user.Id, ct);
        if (current is null || current.DeletedAt is not null || current.DisabledAt is not null || current.User.PasswordHash != verifiedHash)
        {
            await directory.RevokeDeviceSessionAsync(user.Id, session.DeviceId, time.GetUtcNow(), CancellationToken.None);
            throw current?.DisabledAt is not null && current.DeletedAt is null
                ? AccountDisabled()
                : InvalidCredentials();
        }

        audit.LoggedIn(user.Id, session.DeviceId, http.ClientAddress());
        return session;
    }

    private static async Task<MeResponse> GetMeAsync(HttpContext http, IDirectoryStore directory, CancellationToken ct)
    {
        var me = http.Identity();
        var user = await directory.GetUserAsync(me.UserId, ct) ?? throw Validation.NotFound("user");
        return new MeResponse(user.Id, user.Username, user.DisplayName, me.DeviceId);
    }

    // Names for the ids a client shows (senders, members): mine and my team-mates'; other ids are left out,
    // the same whether or not they exist, so the directory does not leak.
    private static async Task<UserListResponse> GetUsersAsync(string? ids, HttpContext http, IDirectoryStore directory, IAccountAdminStore admin, CancellationToken ct)
    {
        // An empty entry (a stray comma) is not a user id: refused like any other, not skipped.
        var wanted = string.IsNullOrEmpty(ids) ? [] : ids.Split(',');
        if (wanted.Length is 0 or > MaxUserIds)
        {
            throw RequestRefusedException.Validation("ids", $"ids must list 1 to {MaxUserIds} user ids, separated by commas.");
        }

        var parsed = wanted.Select(id => Ids.Parse("ids", id)).Distinct().ToList();
        var me = http.Identity();
        var visible = await directory.FilterTeammatesAsync(me.UserId, parsed, ct);
        var users = new List<UserInfo>(visible.Count + 1);
        foreach (var id in parsed)
        {
            if (id == me.UserId || visible.Contains(id))
            {
                if (await directory.GetUserAsync(id, ct) is { } user)
                {
                    users.Add(new UserInfo(user.Id, user.Username, user.DisplayName, Deleted: false));
                }
            }
            else if (await admin.GetUserAdminAsync(id, ct) is { DeletedAt: not null } deleted)
            {
                // A deleted account shares no team with anyone, yet its messages stay: anyone may learn it is a
                // tombstone, which says nothing about the person.
                users.Add(new UserInfo(deleted.User.Id, deleted.User.Username, deleted.User.DisplayName, Deleted: true));
            }
        }

        return new UserListResponse(users);
    }

    private static async Task<IResult> LogoutAsync(HttpContext http, IDirectoryStore directory, SessionRevocations revocations, TimeProvider time, Observability.AuditLog audit, CancellationToken ct)
    {
        var me = http.Identity();
        var ended = await directory.RevokeDeviceSessionAsync(me.UserId, me.DeviceId, time.GetUtcNow(), ct);
        audit.SessionRevoked(me.UserId, me.DeviceId, "logout", me.DeviceId, http.ClientAddress());
        await revocations.PublishAsync(me.UserId, me.DeviceId, announce: ended);
        return Results.NoContent();
    }

    private static async Task<IResult> ChangePasswordAsync(
        ChangePasswordRequest body, HttpContext http, IDirectoryStore directory, PasswordHasher hasher, AttemptThrottle throttle,
        SessionRevocations revocations, TimeProvider time, Observability.AuditLog audit, CancellationToken ct)
    {
        var me = http.Identity();
        throttle.Check("password", http.ClientAddress(), me.UserId.ToString());
        var current = Validation.PasswordToCheck("current_password", body.CurrentPassword);
        var user = await directory.GetUserAsync(me.UserId, ct) ?? throw Validation.NotFound("user");
        var next = Validation.Password("new_password", body.NewPassword, user.Username);
        if (!(await hasher.VerifyAsync(current, user.PasswordHash, http.ClientKey(), ct)).Valid)
        {
            throw InvalidCredentials();
        }

        await directory.UpdatePasswordHashAsync(user.Id, await hasher.HashAsync(next, http.ClientKey(), ct), ct);
        audit.PasswordChanged(user.Id, me.DeviceId, http.ClientAddress());
        foreach (var device in await directory.RevokeAllDeviceSessionsAsync(user.Id, me.DeviceId, time.GetUtcNow(), ct))
        {
            audit.SessionRevoked(user.Id, device, "password changed", me.DeviceId, http.ClientAddress());
            await revocations.PublishAsync(user.Id, device);
        }

        return Results.NoContent();
    }

    private static async Task<SessionListResponse> ListSessionsAsync(string? limit, string? cursor, HttpContext http, IDirectoryStore directory, CancellationToken ct)
    {
        var me = http.Identity();
        var (page, next) = Paging.Page(await directory.ListDeviceSessionsAsync(me.UserId, ct), s => s.DeviceId, limit, cursor);
        return new SessionListResponse(
            page.Select(s => new SessionInfo(s.DeviceId, s.DeviceName, s.CreatedAt.UtcDateTime, s.LastUsedAt.UtcDateTime, s.DeviceId == me.DeviceId)).ToList(),
            next);
    }

    private static async Task<IResult> RevokeSessionAsync(string deviceId, HttpContext http, IDirectoryStore directory, SessionRevocations revocations, TimeProvider time, Observability.AuditLog audit, CancellationToken ct)
    {
        var me = http.Identity();
        var device = Ids.Parse("device_id", deviceId);
        if (!await directory.RevokeDeviceSessionAsync(me.UserId, device, time.GetUtcNow(), ct))
        {
            throw Validation.NotFound("session");
        }

        audit.SessionRevoked(me.UserId, device, "revoked by the user", me.DeviceId, http.ClientAddress());
        await revocations.PublishAsync(me.UserId, device);
        return Results.NoContent();
    }

    private static async Task<IResult> RevokeAllSessionsAsync(HttpContext http, IDirectoryStore directory, SessionRevocations revocations, TimeProvider time, Observability.AuditLog audit, CancellationToken ct)
    {
        var me = http.Identity();
        foreach (var device in await directory.RevokeAllDeviceSessionsAsync(me.UserId, exceptDeviceId: null, time.GetUtcNow(), ct))
        {
            audit.SessionRevoked(me.UserId, device, "all sessions revoked by the user", me.DeviceId, http.ClientAddress());
            await revocations.PublishAsync(me.UserId, device);
        }

        return Results.NoContent();
    }

    private static async Task<SessionCreatedResponse> CreateSessionAsync(
        IDirectoryStore directory, UserRecord user, string deviceName, AuthOptions options, TimeProvider time, CancellationToken ct)
    {
        var token = SessionTokens.NewToken();
        var now = time.GetUtcNow();
        var session = new DeviceSessionRecord(Guid.CreateVersion7(), user.Id, deviceName, SessionTokens.Hash(token, SessionTokens.TokenBytes)!, now, now, null);
        await directory.CreateDeviceSessionAsync(session, ct);
        var expires = now + (options.SessionIdleTimeout < options.SessionMaxAge ? options.SessionIdleTimeout : options.SessionMaxAge);
        return new SessionCreatedResponse(user.Id, user.Username, user.DisplayName, session.DeviceId, token, expires.UtcDateTime);
    }

    // Only to someone who knows the password.
    private static RequestRefusedException AccountDisabled() => new(ErrorCode.AccountDisabled, "This account is disabled by the server's operator.");

    private static RequestRefusedException InvalidCredentials() => new(ErrorCode.InvalidCredentials, "Unknown username or wrong password.");
}
