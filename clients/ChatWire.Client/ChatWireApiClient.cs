using System.Net.Http.Headers;
using System.Net.Http.Json;
using ChatWire.Client.Internal;

namespace ChatWire.Client;

/// <summary>
/// The ChatWire HTTP API (docs/http-api.md): accounts, sessions, teams, channels and direct conversations.
/// One method per endpoint. A session token set by <see cref="SignupAsync"/>, <see cref="LoginAsync"/> or
/// <see cref="SessionToken"/> is sent as <c>Authorization: Bearer</c>. Every non-2xx answer throws
/// <see cref="ChatWireException"/>; a server that cannot be reached throws <see cref="HttpRequestException"/>.
/// Safe for concurrent calls; do not change <see cref="SessionToken"/> while calls are in flight.
/// </summary>
public sealed partial class ChatWireApiClient : IDisposable
{
    /// <summary>Items asked for per page when a list is read whole (the server's maximum).</summary>
    private const int MaxPageSize = 500;

    private readonly HttpClient _http;
    private readonly bool _ownsHttpClient;
    private readonly Uri _baseAddress;

    /// <summary>Creates a client with its own <see cref="HttpClient"/>.</summary>
    /// <param name="baseAddress">The API listener, e.g. <c>http://127.0.0.1:7480</c>.</param>
    public ChatWireApiClient(Uri baseAddress)
        : this(baseAddress, new HttpClient(), ownsHttpClient: true)
    {
    }

    /// <summary>Creates a client over <paramref name="handler"/> (a custom transport, or a stand-in in tests).</summary>
    /// <param name="baseAddress">The API listener, e.g. <c>http://127.0.0.1:7480</c>.</param>
    /// <param name="handler">The message handler requests go through.</param>
    /// <param name="disposeHandler">Whether disposing this client disposes <paramref name="handler"/>.</param>
    public ChatWireApiClient(Uri baseAddress, HttpMessageHandler handler, bool disposeHandler = true)
        : this(baseAddress, new HttpClient(handler, disposeHandler), ownsHttpClient: true)
    {
    }

    /// <summary>Creates a client over a caller-owned <see cref="HttpClient"/>; disposing this client leaves it open.</summary>
    /// <param name="baseAddress">The API listener, e.g. <c>http://127.0.0.1:7480</c>.</param>
    /// <param name="httpClient">The client requests go through; its <see cref="HttpClient.BaseAddress"/> is not used.</param>
    public ChatWireApiClient(Uri baseAddress, HttpClient httpClient)
        : this(baseAddress, httpClient, ownsHttpClient: false)
    {
    }

    private ChatWireApiClient(Uri baseAddress, HttpClient httpClient, bool ownsHttpClient)
    {
        ArgumentNullException.ThrowIfNull(baseAddress);
        ArgumentNullException.ThrowIfNull(httpClient);
        if (!baseAddress.IsAbsoluteUri)
        {
            throw new ArgumentException("The base address must be an absolute URI such as http://127.0.0.1:7480.", nameof(baseAddress));
        }

        // A trailing slash makes relative paths append to a base with a path (http://host/chat/ + v1/me).
        _baseAddress = baseAddress.AbsoluteUri.EndsWith('/') ? baseAddress : new Uri(baseAddress.AbsoluteUri + "/");
        _http = httpClient;
        _ownsHttpClient = ownsHttpClient;
    }

    /// <summary>The API listener this client talks to.</summary>
    public Uri BaseAddress => _baseAddress;

    /// <summary>The session token sent as <c>Authorization: Bearer</c>; set by signup and login, cleared by logout.</summary>
    public string? SessionToken { get; set; }

    /// <summary><c>GET /v1/server-info</c>: endpoints, limits and protocol versions (no authentication).</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<ServerInfo> GetServerInfoAsync(CancellationToken cancellationToken = default)
    {
        var info = await SendAsync<ServerInfo>(HttpMethod.Get, "v1/server-info", body: null, authenticated: false, cancellationToken).ConfigureAwait(false);
        return info with { ReceivedOverHttps = _baseAddress.Scheme == Uri.UriSchemeHttps };
    }

    /// <summary><c>POST /v1/accounts/signup</c>: creates the account, logs in a new device and keeps its token.</summary>
    /// <param name="request">Username, password and optional names.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<AuthResult> SignupAsync(SignupRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var result = await SendAsync<AuthResult>(HttpMethod.Post, "v1/accounts/signup", request, authenticated: false, cancellationToken).ConfigureAwait(false);
        SessionToken = result.SessionToken;
        return result;
    }

    /// <summary><c>POST /v1/accounts/login</c>: logs in a new device and keeps its token.</summary>
    /// <param name="request">Username, password and an optional device name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<AuthResult> LoginAsync(LoginRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var result = await SendAsync<AuthResult>(HttpMethod.Post, "v1/accounts/login", request, authenticated: false, cancellationToken).ConfigureAwait(false);
        SessionToken = result.SessionToken;
        return result;
    }

    /// <summary><c>POST /v1/accounts/logout</c>: revokes this device's session and forgets the token.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task LogoutAsync(CancellationToken cancellationToken = default)
    {
        await SendAsync(HttpMethod.Post, "v1/accounts/logout", body: null, cancellationToken).ConfigureAwait(false);
        SessionToken = null;
    }

    /// <summary><c>POST /v1/accounts/password</c>: changes the password and revokes every other session.</summary>
    /// <param name="currentPassword">The password now.</param>
    /// <param name="newPassword">The new password (8–1024 characters).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task ChangePasswordAsync(string currentPassword, string newPassword, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, "v1/accounts/password", new ChangePasswordBody(currentPassword, newPassword), cancellationToken);

    /// <summary><c>GET /v1/me</c>: the user and device of the session token.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<CurrentUser> GetMeAsync(CancellationToken cancellationToken = default) =>
        SendAsync<CurrentUser>(HttpMethod.Get, "v1/me", body: null, authenticated: true, cancellationToken);

    /// <summary><c>GET /v1/sessions</c>: my device sessions.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<IReadOnlyList<SessionInfo>> ListSessionsAsync(CancellationToken cancellationToken = default) =>
        ListAllAsync<SessionList, SessionInfo>("v1/sessions", cancellationToken);

    /// <summary><c>DELETE /v1/sessions/{device_id}</c>: revokes one of my devices (its connections close with SESSION_REVOKED).</summary>
    /// <param name="deviceId">The device to revoke.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task RevokeSessionAsync(Guid deviceId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, $"v1/sessions/{deviceId:D}", body: null, cancellationToken);

    /// <summary><c>DELETE /v1/sessions</c>: revokes all my sessions, this one included.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task RevokeAllSessionsAsync(CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, "v1/sessions", body: null, cancellationToken);

    /// <summary><c>POST /v1/teams</c>: creates a team (and its public <c>general</c> channel) with me as owner.</summary>
    /// <param name="name">The team name (1–64 characters, not unique).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<CreatedTeam> CreateTeamAsync(string name, CancellationToken cancellationToken = default) =>
        SendAsync<CreatedTeam>(HttpMethod.Post, "v1/teams", new CreateTeamBody(name), authenticated: true, cancellationToken);

    /// <summary><c>GET /v1/teams</c>: the teams I am a member of.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<IReadOnlyList<TeamSummary>> ListTeamsAsync(CancellationToken cancellationToken = default) =>
        ListAllAsync<TeamList, TeamSummary>("v1/teams", cancellationToken);

    /// <summary>
    /// <c>PATCH /v1/teams/{team_id}</c>: renames a team and/or changes who may invite and who may use @channel and
    /// @here (owner or admin).
    /// </summary>
    /// <param name="teamId">The team.</param>
    /// <param name="name">The new name; unchanged when <see langword="null"/>.</param>
    /// <param name="membersCanInvite">Whether every member may create invites; unchanged when <see langword="null"/>.</param>
    /// <param name="membersCanMentionChannel">
    /// Whether every member may use @channel and @here (otherwise owners and admins only); unchanged when <see langword="null"/>.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<TeamSummary> UpdateTeamAsync(
        Guid teamId, string? name = null, bool? membersCanInvite = null, bool? membersCanMentionChannel = null, CancellationToken cancellationToken = default) =>
        SendAsync<TeamSummary>(
            HttpMethod.Patch, $"v1/teams/{teamId:D}", new UpdateTeamBody(name, membersCanInvite, membersCanMentionChannel), authenticated: true, cancellationToken);

    /// <summary>The signature before <c>membersCanMentionChannel</c>, kept so that code built against it, or passing the token by position, still works.</summary>
    /// <param name="teamId">The team.</param>
    /// <param name="name">The new name; unchanged when <see langword="null"/>.</param>
    /// <param name="membersCanInvite">Whether every member may create invites; unchanged when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public Task<TeamSummary> UpdateTeamAsync(Guid teamId, string? name, bool? membersCanInvite, CancellationToken cancellationToken) =>
        UpdateTeamAsync(teamId, name, membersCanInvite, membersCanMentionChannel: null, cancellationToken);

    /// <summary>
    /// <c>DELETE /v1/teams/{team_id}/members/{user_id}</c>: removes a member from the team and all its channels
    /// (admins remove members, owners anyone); their invites are revoked.
    /// </summary>
    /// <param name="teamId">The team.</param>
    /// <param name="userId">The member to remove.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task RemoveTeamMemberAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, $"v1/teams/{teamId:D}/members/{userId:D}", body: null, cancellationToken);

    /// <summary><c>PUT /v1/teams/{team_id}/members/{user_id}/role</c>: makes a member an owner, an admin or a member (owners only).</summary>
    /// <param name="teamId">The team.</param>
    /// <param name="userId">The member.</param>
    /// <param name="role"><c>owner</c>, <c>admin</c> or <c>member</c>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task SetTeamRoleAsync(Guid teamId, Guid userId, string role, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Put, $"v1/teams/{teamId:D}/members/{userId:D}/role", new SetRoleBody(role), cancellationToken);

    /// <summary><c>POST /v1/teams/{team_id}/invites</c>: creates an invite code.</summary>
    /// <param name="teamId">The team.</param>
    /// <param name="expiresIn">How long the invite works; the server's default (7 days) when <see langword="null"/>, at most 30 days.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<TeamInvite> CreateInviteAsync(Guid teamId, TimeSpan? expiresIn = null, CancellationToken cancellationToken = default) =>
        SendAsync<TeamInvite>(
            HttpMethod.Post,
            $"v1/teams/{teamId:D}/invites",
            new CreateInviteBody(expiresIn is { } span ? (long)span.TotalSeconds : null),
            authenticated: true,
            cancellationToken);

    /// <summary><c>GET /v1/teams/{team_id}/invites</c>: the team's invites (owner or admin).</summary>
    /// <param name="teamId">The team.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<IReadOnlyList<InviteInfo>> ListInvitesAsync(Guid teamId, CancellationToken cancellationToken = default) =>
        ListAllAsync<InviteList, InviteInfo>($"v1/teams/{teamId:D}/invites", cancellationToken);

    /// <summary><c>DELETE /v1/teams/{team_id}/invites/{invite_id}</c>: revokes an invite (owner or admin).</summary>
    /// <param name="teamId">The team.</param>
    /// <param name="inviteId">The invite.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task RevokeInviteAsync(Guid teamId, Guid inviteId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, $"v1/teams/{teamId:D}/invites/{inviteId:D}", body: null, cancellationToken);

    /// <summary><c>POST /v1/invites/{invite_code}/join</c>: joins the team of an invite (a member already: the same answer).</summary>
    /// <param name="inviteCode">The invite code.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<TeamSummary> JoinTeamAsync(string inviteCode, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(inviteCode);
        return SendAsync<TeamSummary>(HttpMethod.Post, $"v1/invites/{Uri.EscapeDataString(inviteCode)}/join", body: null, authenticated: true, cancellationToken);
    }

    /// <summary><c>POST /v1/teams/{team_id}/leave</c>: leaves a team.</summary>
    /// <param name="teamId">The team.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task LeaveTeamAsync(Guid teamId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, $"v1/teams/{teamId:D}/leave", body: null, cancellationToken);

    /// <summary><c>PUT /v1/teams/{team_id}/mute</c>: mutes a team for me.</summary>
    /// <param name="teamId">The team.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task MuteTeamAsync(Guid teamId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Put, $"v1/teams/{teamId:D}/mute", body: null, cancellationToken);

    /// <summary><c>DELETE /v1/teams/{team_id}/mute</c>: unmutes a team for me.</summary>
    /// <param name="teamId">The team.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task UnmuteTeamAsync(Guid teamId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, $"v1/teams/{teamId:D}/mute", body: null, cancellationToken);

    /// <summary><c>GET /v1/teams/{team_id}/members</c>: members whose username or display name starts with <paramref name="prefix"/>.</summary>
    /// <param name="teamId">The team.</param>
    /// <param name="prefix">Case-insensitive prefix; every member when <see langword="null"/>.</param>
    /// <param name="limit">1–100; the server's default (20) when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<IReadOnlyList<TeamMember>> ListMembersAsync(Guid teamId, string? prefix = null, int? limit = null, CancellationToken cancellationToken = default)
    {
        var query = new List<string>(2);
        if (!string.IsNullOrEmpty(prefix))
        {
            query.Add("prefix=" + Uri.EscapeDataString(prefix));
        }

        if (limit is { } count)
        {
            query.Add(FormattableString.Invariant($"limit={count}"));
        }

        var path = $"v1/teams/{teamId:D}/members" + (query.Count > 0 ? "?" + string.Join('&', query) : string.Empty);
        return (await SendAsync<MemberList>(HttpMethod.Get, path, body: null, authenticated: true, cancellationToken).ConfigureAwait(false)).Members ?? [];
    }

    /// <summary><c>POST /v1/teams/{team_id}/channels</c>: creates a channel.</summary>
    /// <param name="teamId">The team.</param>
    /// <param name="name">1–64 characters of <c>a-z 0-9 _ -</c>, unique within the team.</param>
    /// <param name="isPrivate">Whether only invited members may join.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<ChannelInfo> CreateChannelAsync(Guid teamId, string name, bool isPrivate = false, CancellationToken cancellationToken = default) =>
        SendAsync<ChannelInfo>(HttpMethod.Post, $"v1/teams/{teamId:D}/channels", new CreateChannelBody(name, isPrivate), authenticated: true, cancellationToken);

    /// <summary><c>GET /v1/teams/{team_id}/channels</c>: the team's public channels plus the private ones I am in.</summary>
    /// <param name="teamId">The team.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<IReadOnlyList<ChannelSummary>> ListChannelsAsync(Guid teamId, CancellationToken cancellationToken = default) =>
        ListAllAsync<ChannelList, ChannelSummary>($"v1/teams/{teamId:D}/channels", cancellationToken);

    /// <summary><c>POST /v1/channels/{conversation_id}/join</c>: joins a public channel of one of my teams.</summary>
    /// <param name="conversationId">The channel.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task JoinChannelAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, $"v1/channels/{conversationId:D}/join", body: null, cancellationToken);

    /// <summary><c>POST /v1/channels/{conversation_id}/members</c>: adds a team-mate to a channel I am in.</summary>
    /// <param name="conversationId">The channel.</param>
    /// <param name="userId">The team-mate.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task AddChannelMemberAsync(Guid conversationId, Guid userId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, $"v1/channels/{conversationId:D}/members", new AddChannelMemberBody(userId), cancellationToken);

    /// <summary><c>POST /v1/dms</c>: opens (or finds) the direct conversation with these people and me.</summary>
    /// <param name="users">One to seven usernames or user ids, each sharing a team with me.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<DirectConversation> OpenDirectConversationAsync(IEnumerable<string> users, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(users);
        return SendAsync<DirectConversation>(HttpMethod.Post, "v1/dms", new OpenDirectConversationBody(users.ToArray()), authenticated: true, cancellationToken);
    }

    /// <summary><c>GET /v1/conversations</c>: every conversation I am in.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<IReadOnlyList<ConversationSummary>> ListConversationsAsync(CancellationToken cancellationToken = default) =>
        ListAllAsync<ConversationList, ConversationSummary>("v1/conversations", cancellationToken);

    /// <summary>
    /// <c>GET /v1/users?ids=…</c>: the names of these users, for those I share a team with (and myself);
    /// others are left out. Asks in batches of 100.
    /// </summary>
    /// <param name="userIds">The users.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public async Task<IReadOnlyList<UserName>> GetUsersAsync(IEnumerable<Guid> userIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userIds);
        var found = new List<UserName>();
        foreach (var chunk in userIds.Distinct().Chunk(100))
        {
            var ids = string.Join(',', chunk.Select(id => id.ToString("D")));
            found.AddRange((await SendAsync<UserNameList>(HttpMethod.Get, $"v1/users?ids={ids}", body: null, authenticated: true, cancellationToken).ConfigureAwait(false)).Users);
        }

        return found;
    }

    /// <summary><c>PATCH /v1/channels/{conversation_id}</c>: renames a channel, archives or unarchives it, or sets its slow mode or topic.</summary>
    /// <param name="conversationId">The channel.</param>
    /// <param name="name">The new name; null keeps it.</param>
    /// <param name="archived">True archives, false unarchives; null leaves it.</param>
    /// <param name="slowModeSeconds">Slow mode, 0 (off) to 21,600 seconds; null leaves it.</param>
    /// <param name="topic">The topic, at most 250 characters; empty clears it; null leaves it.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<ChannelSummary> UpdateChannelAsync(
        Guid conversationId, string? name = null, bool? archived = null, int? slowModeSeconds = null, string? topic = null, CancellationToken cancellationToken = default) =>
        SendAsync<ChannelSummary>(
            HttpMethod.Patch, $"v1/channels/{conversationId:D}", new UpdateChannelBody(name, archived, slowModeSeconds, topic), authenticated: true, cancellationToken);

    /// <summary>The signature before slow mode and topics, kept so that code built against it, or passing the token by position, still works.</summary>
    /// <param name="conversationId">The channel.</param>
    /// <param name="name">The new name; null keeps it.</param>
    /// <param name="archived">True archives, false unarchives; null leaves it.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public Task<ChannelSummary> UpdateChannelAsync(Guid conversationId, string? name, bool? archived, CancellationToken cancellationToken) =>
        UpdateChannelAsync(conversationId, name, archived, slowModeSeconds: null, topic: null, cancellationToken);

    /// <summary><c>DELETE /v1/teams/{team_id}</c>: deletes a team (owners); everyone leaves it and its channels.</summary>
    /// <param name="teamId">The team.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task DeleteTeamAsync(Guid teamId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Delete, $"v1/teams/{teamId:D}", body: null, cancellationToken);

    /// <summary><c>POST /v1/teams/{team_id}/transfer</c>: hands the team to another member (they become an owner, I an admin).</summary>
    /// <param name="teamId">The team.</param>
    /// <param name="userId">The new owner.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task TransferTeamAsync(Guid teamId, Guid userId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, $"v1/teams/{teamId:D}/transfer", new TransferTeamBody(userId), cancellationToken);

    /// <summary><c>POST /v1/channels/{conversation_id}/leave</c>: leaves a channel (not a team's #general).</summary>
    /// <param name="conversationId">The channel.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task LeaveChannelAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        SendAsync(HttpMethod.Post, $"v1/channels/{conversationId:D}/leave", body: null, cancellationToken);

    /// <summary><c>GET /v1/channels/{conversation_id}/members</c>: every member of a channel.</summary>
    /// <param name="conversationId">The channel.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<IReadOnlyList<ChannelMember>> ListChannelMembersAsync(Guid conversationId, CancellationToken cancellationToken = default) =>
        ListAllAsync<ChannelMemberList, ChannelMember>($"v1/channels/{conversationId:D}/members", cancellationToken);

    /// <summary><c>GET /v1/teams/{team_id}/presence</c>: every member of the team with their presence, in user id order.</summary>
    /// <param name="teamId">The team.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public Task<IReadOnlyList<MemberPresence>> ListTeamPresenceAsync(Guid teamId, CancellationToken cancellationToken = default) =>
        ListAllAsync<PresenceList, MemberPresence>($"v1/teams/{teamId:D}/presence", cancellationToken);

    /// <summary>
    /// <c>GET /v1/messages/{message_id}</c>: the conversations of mine holding a message with this id (one,
    /// unless an id was reused on purpose), with its seq in each.
    /// </summary>
    /// <param name="messageId">The message id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ChatWireException"><c>NOT_FOUND</c> when no conversation of mine holds it.</exception>
    public async Task<IReadOnlyList<MessageLocation>> LocateMessageAsync(Guid messageId, CancellationToken cancellationToken = default) =>
        (await SendAsync<MessageLocations>(HttpMethod.Get, $"v1/messages/{messageId:D}", body: null, authenticated: true, cancellationToken).ConfigureAwait(false)).Locations;

    /// <summary>Disposes the underlying <see cref="HttpClient"/> when this client created it.</summary>
    public void Dispose()
    {
        if (_ownsHttpClient)
        {
            _http.Dispose();
        }
    }

    // A list endpoint, every page: its next_cursor is followed until the last page (docs/http-api.md, "Lists").
    private async Task<IReadOnlyList<TItem>> ListAllAsync<TPage, TItem>(string path, CancellationToken cancellationToken)
        where TPage : IPage<TItem>
    {
        var all = new List<TItem>();
        string? cursor = null;
        do
        {
            var query = $"{path}?limit={MaxPageSize}" + (cursor is null ? string.Empty : "&cursor=" + Uri.EscapeDataString(cursor));
            var page = await SendAsync<TPage>(HttpMethod.Get, query, body: null, authenticated: true, cancellationToken).ConfigureAwait(false);
            all.AddRange(page.Items ?? []);
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        return all;
    }

    private async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, bool authenticated, CancellationToken cancellationToken)
    {
        using var response = await SendCoreAsync(method, path, body, authenticated, cancellationToken).ConfigureAwait(false);
        var result = await response.Content.ReadFromJsonAsync<T>(ApiJson.Options, cancellationToken).ConfigureAwait(false);
        return result ?? throw new InvalidDataException($"The server answered {method} /{path} with an empty body.");
    }

    private async Task SendAsync(HttpMethod method, string path, object? body, CancellationToken cancellationToken)
    {
        using var response = await SendCoreAsync(method, path, body, authenticated: true, cancellationToken).ConfigureAwait(false);
    }

    private async Task<HttpResponseMessage> SendCoreAsync(HttpMethod method, string path, object? body, bool authenticated, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, new Uri(_baseAddress, path));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (authenticated && SessionToken is { Length: > 0 } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType(), mediaType: null, ApiJson.Options);
        }

        var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            throw await ProblemDetailsReader.ReadAsync(response, cancellationToken).ConfigureAwait(false);
        }
    }
}
