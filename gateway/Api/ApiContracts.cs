using System.ComponentModel;

namespace ChatWire.Gateway.Api;

// Request and response bodies of the HTTP API (docs/http-api.md). Serialized snake_case; times are UTC.
// Request fields are nullable so a missing field is a VALIDATION_FAILED answer, not a binder error.
internal sealed record SignupRequest(string? Username, string? Password, string? DisplayName = null, string? DeviceName = null);

internal sealed record LoginRequest(string? Username, string? Password, string? DeviceName = null);

internal sealed record ChangePasswordRequest(string? CurrentPassword, string? NewPassword);

internal sealed record SessionCreatedResponse(Guid UserId, string Username, string DisplayName, Guid DeviceId, string SessionToken, DateTime ExpiresAt);

internal sealed record MeResponse(Guid UserId, string Username, string DisplayName, Guid DeviceId);

internal sealed record UserInfo(Guid UserId, string Username, string DisplayName, bool Deleted);

internal sealed record UserListResponse(IReadOnlyList<UserInfo> Users);

internal sealed record SessionInfo(Guid DeviceId, string DeviceName, DateTime CreatedAt, DateTime LastUsedAt, bool Current);

internal sealed record SessionListResponse(IReadOnlyList<SessionInfo> Sessions, string? NextCursor);

internal sealed record CreateTeamRequest(string? Name);

internal sealed record TeamCreatedResponse(Guid TeamId, string Name, string Role, bool Muted, Guid GeneralChannelId);

internal sealed record TeamInfo(Guid TeamId, string Name, string Role, bool Muted, bool MembersCanInvite, bool MembersCanMentionChannel);

internal sealed record UpdateTeamRequest(string? Name = null, bool? MembersCanInvite = null, bool? MembersCanMentionChannel = null);

internal sealed record SetRoleRequest(string? Role);

internal sealed record TransferTeamRequest(string? UserId);

internal sealed record TeamListResponse(IReadOnlyList<TeamInfo> Teams, string? NextCursor);

internal sealed record CreateInviteRequest(long? ExpiresInSeconds = null);

internal sealed record InviteCreatedResponse(Guid InviteId, string InviteCode, Guid TeamId, DateTime ExpiresAt);

internal sealed record InviteInfo(Guid InviteId, Guid CreatedBy, DateTime CreatedAt, DateTime ExpiresAt, bool Revoked);

internal sealed record InviteListResponse(IReadOnlyList<InviteInfo> Invites, string? NextCursor);

internal sealed record MemberInfo(Guid UserId, string Username, string DisplayName, string Role);

internal sealed record MemberPresence(Guid UserId, string Username, string DisplayName, string Status, DateTime? LastSeenAt);

internal sealed record TeamPresenceResponse(IReadOnlyList<MemberPresence> Members, string? NextCursor);

internal sealed record MemberListResponse(IReadOnlyList<MemberInfo> Members);

internal sealed record CreateChannelRequest(string? Name, bool? Private = null);

internal sealed record ChannelInfo(Guid ConversationId, Guid TeamId, string Name, string Type, bool Member, bool Archived, int SlowModeSeconds, string Topic);

internal sealed record UpdateChannelRequest(string? Name = null, bool? Archived = null, int? SlowModeSeconds = null, string? Topic = null);

internal sealed record ChannelCreatedResponse(Guid ConversationId, Guid TeamId, string Name, string Type);

internal sealed record ChannelListResponse(IReadOnlyList<ChannelInfo> Channels, string? NextCursor);

internal sealed record ChannelMemberInfo(Guid UserId, string Username, string DisplayName);

internal sealed record ChannelMemberListResponse(IReadOnlyList<ChannelMemberInfo> Members, string? NextCursor);

internal sealed record AddChannelMemberRequest(string? UserId);

internal sealed record OpenDirectRequest(IReadOnlyList<string?>? Users);

internal sealed record DirectConversationResponse(Guid ConversationId, string Type, IReadOnlyList<Guid> Members);

internal sealed record ConversationInfo(Guid ConversationId, string Type, Guid? TeamId, string? Name, IReadOnlyList<Guid>? Members, ulong LastSeq);

internal sealed record MessageLocation(Guid ConversationId, ulong Seq);

internal sealed record MessageLocationResponse(Guid MessageId, IReadOnlyList<MessageLocation> Locations);

internal sealed record ConversationListResponse(IReadOnlyList<ConversationInfo> Conversations, string? NextCursor);

internal sealed record EndpointInfo(string Host, int Port);

/// <summary>Where the protocol listeners are; a listener that is off is null.</summary>
internal sealed record ServerEndpoints(
    EndpointInfo? Tcp,
    EndpointInfo? Tls,
    [property: Description("The Noise listener: the protocol inside Noise encryption (docs/protocol.md §8), reached with the key in noise_static_public_key; null when it is off.")]
    EndpointInfo? Noise);

internal sealed record ServerLimits(uint MaxFrameLength, int MaxContentLength, int MaxHistoryLimit, int HeartbeatIntervalMs, int AuthDeadlineMs);

/// <summary>What a client needs before it connects (docs/http-api.md, "Server").</summary>
internal sealed record ServerInfoResponse(
    string Server,
    string Version,
    IReadOnlyList<uint> ProtocolVersions,
    ServerEndpoints Endpoints,
    [property: Description("The Noise listener's static Curve25519 public key, 64 lowercase hex characters, the same on every node; null when the Noise listener is off. Trust it only from an answer fetched over HTTPS or on loopback: over plain HTTP from another host, whoever can change this answer can read the Noise connection.")]
    string? NoiseStaticPublicKey,
    ServerLimits Limits,
    [property: Description("The push notification providers this server sends to (apns, fcm, webhook), each configured by its operator; PUT /v1/push/registration with another provider is 400. Empty when it sends none.")]
    IReadOnlyList<string> PushProviders);
