namespace ChatWire.Client;

/// <summary><c>GET /v1/server-info</c>: everything a client needs to connect.</summary>
/// <param name="Server">The server product name, <c>chatwire</c>.</param>
/// <param name="Version">The server version.</param>
/// <param name="ProtocolVersions">The TCP protocol versions the server speaks.</param>
/// <param name="Endpoints">The protocol listeners; a disabled one is <see langword="null"/>.</param>
/// <param name="NoiseStaticPublicKey">The Noise static public key, when the Noise listener is enabled.</param>
/// <param name="Limits">The server's limits.</param>
public sealed record ServerInfo(
    string Server,
    string Version,
    IReadOnlyList<int> ProtocolVersions,
    ServerEndpoints Endpoints,
    string? NoiseStaticPublicKey,
    ServerLimits Limits)
{
    /// <summary>
    /// Whether this answer came over HTTPS, so its <see cref="NoiseStaticPublicKey"/> is as trustworthy as the
    /// server's certificate (set by <see cref="ChatWireApiClient.GetServerInfoAsync"/>; never read from the JSON).
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool ReceivedOverHttps { get; init; }

    /// <summary>
    /// The push notification providers the server sends to (<c>apns</c>, <c>fcm</c>, <c>webhook</c>); registering with
    /// another is refused. Empty when it sends none, and from a server older than this field.
    /// </summary>
    public IReadOnlyList<string> PushProviders { get; init; } = [];
}

/// <summary>The protocol listeners of a server.</summary>
/// <param name="Tcp">Plain TCP, or <see langword="null"/> when disabled.</param>
/// <param name="Tls">TLS, or <see langword="null"/> when disabled.</param>
/// <param name="Noise">Noise-encrypted TCP, or <see langword="null"/> when disabled.</param>
public sealed record ServerEndpoints(ServerEndpoint? Tcp, ServerEndpoint? Tls, ServerEndpoint? Noise);

/// <summary>One protocol listener.</summary>
/// <param name="Host">The host to connect to.</param>
/// <param name="Port">The port.</param>
public sealed record ServerEndpoint(string Host, int Port);

/// <summary>The limits a server announces in server-info.</summary>
/// <param name="MaxFrameLength">Largest frame body after AUTH, in bytes.</param>
/// <param name="MaxContentLength">Largest SEND content, in bytes.</param>
/// <param name="MaxHistoryLimit">Most messages in one HISTORY page.</param>
/// <param name="HeartbeatIntervalMs">How often a client must send something, in milliseconds.</param>
/// <param name="AuthDeadlineMs">How long after connecting AUTH must succeed, in milliseconds.</param>
public sealed record ServerLimits(long MaxFrameLength, long MaxContentLength, int MaxHistoryLimit, long HeartbeatIntervalMs, long AuthDeadlineMs);

/// <summary><c>POST /v1/accounts/signup</c>.</summary>
/// <param name="Username">3–32 characters of <c>a-z 0-9 . _ -</c>.</param>
/// <param name="Password">8–1024 characters.</param>
/// <param name="DisplayName">1–64 characters; the server defaults it.</param>
/// <param name="DeviceName">A name for this device, shown in the session list.</param>
public sealed record SignupRequest(string Username, string Password, string? DisplayName = null, string? DeviceName = null);

/// <summary><c>POST /v1/accounts/login</c>.</summary>
/// <param name="Username">The username.</param>
/// <param name="Password">The password.</param>
/// <param name="DeviceName">A name for this device, shown in the session list.</param>
public sealed record LoginRequest(string Username, string Password, string? DeviceName = null);

/// <summary>The answer to signup and login: a new device with a fresh session token.</summary>
/// <param name="UserId">The user.</param>
/// <param name="Username">The stored (lowercase) username.</param>
/// <param name="DisplayName">The display name.</param>
/// <param name="DeviceId">The new device.</param>
/// <param name="SessionToken">The device's session token, for <c>Authorization: Bearer</c> and AUTH.</param>
/// <param name="ExpiresAt">When the token expires at the latest.</param>
public sealed record AuthResult(Guid UserId, string Username, string DisplayName, Guid DeviceId, string SessionToken, DateTimeOffset? ExpiresAt);

/// <summary><c>GET /v1/me</c>: who the session token belongs to.</summary>
/// <param name="UserId">The user.</param>
/// <param name="Username">The username.</param>
/// <param name="DisplayName">The display name.</param>
/// <param name="DeviceId">This device.</param>
public sealed record CurrentUser(Guid UserId, string Username, string DisplayName, Guid DeviceId);

/// <summary>One device session of mine (<c>GET /v1/sessions</c>).</summary>
/// <param name="DeviceId">The device.</param>
/// <param name="DeviceName">Its name, if it gave one.</param>
/// <param name="CreatedAt">When it logged in.</param>
/// <param name="LastUsedAt">When its token was last used.</param>
/// <param name="Current">Whether it is the device making this call.</param>
public sealed record SessionInfo(Guid DeviceId, string? DeviceName, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, bool Current);

/// <summary>A team I created (<c>POST /v1/teams</c>).</summary>
/// <param name="TeamId">The team.</param>
/// <param name="Name">Its name.</param>
/// <param name="Role">My role: <c>owner</c>.</param>
/// <param name="Muted">Whether I muted it.</param>
/// <param name="GeneralChannelId">The public <c>general</c> channel every member joins.</param>
public sealed record CreatedTeam(Guid TeamId, string Name, string Role, bool Muted, Guid GeneralChannelId);

/// <summary>A team I am a member of.</summary>
/// <param name="TeamId">The team.</param>
/// <param name="Name">Its name (not unique).</param>
/// <param name="Role">My role: <c>owner</c>, <c>admin</c> or <c>member</c>.</param>
/// <param name="Muted">Whether I muted it.</param>
/// <param name="MembersCanInvite">Whether every member may create invites (otherwise owners and admins only).</param>
/// <param name="MembersCanMentionChannel">Whether every member may use @channel and @here (otherwise owners and admins only).</param>
public sealed record TeamSummary(Guid TeamId, string Name, string Role, bool Muted, bool MembersCanInvite, bool MembersCanMentionChannel = true);

/// <summary>A new invite (<c>POST /v1/teams/{team_id}/invites</c>).</summary>
/// <param name="InviteId">The invite, for revoking it.</param>
/// <param name="InviteCode">The code to share (128 random bits, base64url).</param>
/// <param name="TeamId">The team it admits to.</param>
/// <param name="ExpiresAt">When it stops working.</param>
public sealed record TeamInvite(Guid InviteId, string InviteCode, Guid TeamId, DateTimeOffset ExpiresAt);

/// <summary>An invite of a team, without its code (<c>GET /v1/teams/{team_id}/invites</c>).</summary>
/// <param name="InviteId">The invite.</param>
/// <param name="CreatedBy">The member who created it.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="ExpiresAt">When it stops working.</param>
/// <param name="Revoked">Whether it was revoked (by hand, or because its creator left or was removed).</param>
public sealed record InviteInfo(Guid InviteId, Guid CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, bool Revoked);

/// <summary>A member of a team (<c>GET /v1/teams/{team_id}/members</c>).</summary>
/// <param name="UserId">The user.</param>
/// <param name="Username">The username.</param>
/// <param name="DisplayName">The display name.</param>
/// <param name="Role">Their role: <c>owner</c>, <c>admin</c> or <c>member</c>.</param>
public sealed record TeamMember(Guid UserId, string Username, string DisplayName, string Role);

/// <summary>A channel just created (<c>POST /v1/teams/{team_id}/channels</c>).</summary>
/// <param name="ConversationId">The channel's conversation.</param>
/// <param name="TeamId">Its team.</param>
/// <param name="Name">Its name (lowercase, unique within the team).</param>
/// <param name="Type"><c>public</c> or <c>private</c>.</param>
public sealed record ChannelInfo(Guid ConversationId, Guid TeamId, string Name, string Type);

/// <summary>A channel of a team (<c>GET /v1/teams/{team_id}/channels</c>).</summary>
/// <param name="ConversationId">The channel's conversation.</param>
/// <param name="TeamId">Its team.</param>
/// <param name="Name">Its name.</param>
/// <param name="Type"><c>public</c> or <c>private</c>.</param>
/// <param name="Member">Whether I am a member of it.</param>
/// <param name="Archived">The channel is archived: readable, not writable.</param>
/// <param name="SlowModeSeconds">
/// Slow mode: each member may send one message per this many seconds in the channel (its creator and the team's owners
/// and admins are not held by it); a SEND sooner is refused <c>RATE_LIMITED</c> with the wait. 0 when off.
/// </param>
/// <param name="Topic">The line shown at the channel's head; empty when it has none.</param>
public sealed record ChannelSummary(
    Guid ConversationId, Guid TeamId, string Name, string Type, bool Member, bool Archived = false, int SlowModeSeconds = 0, string Topic = "");

/// <summary>A direct conversation (<c>POST /v1/dms</c>).</summary>
/// <param name="ConversationId">The conversation; the same set of people always gets the same one.</param>
/// <param name="Type"><c>dm</c> (two people) or <c>group</c> (three to eight).</param>
/// <param name="Members">Every member's user id, mine included.</param>
public sealed record DirectConversation(Guid ConversationId, string Type, IReadOnlyList<Guid> Members);

/// <summary>A conversation I am in (<c>GET /v1/conversations</c>).</summary>
/// <param name="ConversationId">The conversation.</param>
/// <param name="Type"><c>public</c>, <c>private</c>, <c>dm</c> or <c>group</c>.</param>
/// <param name="TeamId">The team of a channel; <see langword="null"/> for direct conversations.</param>
/// <param name="Name">The channel name; <see langword="null"/> for direct conversations.</param>
/// <param name="Members">The members of a direct conversation; <see langword="null"/> for channels.</param>
/// <param name="LastSeq">The seq of the conversation's newest event (0 when it has none).</param>
public sealed record ConversationSummary(Guid ConversationId, string Type, Guid? TeamId, string? Name, IReadOnlyList<Guid>? Members, ulong LastSeq = 0);

/// <summary>Where a message is (<c>GET /v1/messages/{message_id}</c>).</summary>
/// <param name="ConversationId">The conversation holding it.</param>
/// <param name="Seq">Its seq there.</param>
public sealed record MessageLocation(Guid ConversationId, ulong Seq);

/// <summary>A team member and their presence (<c>GET /v1/teams/{team_id}/presence</c>).</summary>
/// <param name="UserId">The member.</param>
/// <param name="Username">Their username.</param>
/// <param name="DisplayName">Their display name.</param>
/// <param name="Status"><c>online</c>, <c>away</c>, <c>dnd</c> or <c>offline</c>.</param>
/// <param name="LastSeenAt">For an offline member, when their last device disconnected; null when online or never seen.</param>
public sealed record MemberPresence(Guid UserId, string Username, string DisplayName, string Status, DateTimeOffset? LastSeenAt);

/// <summary>A member of a channel (<c>GET /v1/channels/{conversation_id}/members</c>).</summary>
/// <param name="UserId">The member.</param>
/// <param name="Username">Their username.</param>
/// <param name="DisplayName">Their display name.</param>
public sealed record ChannelMember(Guid UserId, string Username, string DisplayName);

/// <summary>A user's names (<c>GET /v1/users</c>).</summary>
/// <param name="UserId">The user.</param>
/// <param name="Username">Their username.</param>
/// <param name="DisplayName">Their display name ("Deleted account" for a deleted one).</param>
/// <param name="Deleted">The account was deleted by the server's operator; its messages stay.</param>
public sealed record UserName(Guid UserId, string Username, string DisplayName, bool Deleted = false);
