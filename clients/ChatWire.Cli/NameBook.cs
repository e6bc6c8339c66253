using ChatWire.Client;
using ChatWire.Protocol.Frames;

namespace ChatWire.Cli;

/// <summary>
/// The names a person reads instead of ids: usernames (<c>GET /v1/users</c>), and conversation labels —
/// <c>#general (Acme)</c> for a channel, <c>DM with alice</c>, <c>group with alice, bob</c>. Looked up once per
/// command and cached; an id nobody can name (someone who shares no team with me any more) prints as itself.
/// </summary>
internal sealed class NameBook(ChatWireApiClient api, Guid me)
{
    private readonly Dictionary<Guid, string> _users = [];
    private readonly Dictionary<Guid, string> _conversations = [];
    private readonly HashSet<Guid> _unknown = [];
    private bool _conversationsLoaded;

    /// <summary>Looks up every user these events name (senders, members joining or leaving) not known yet.</summary>
    public async Task LearnAsync(IEnumerable<ConversationEvent> events, CancellationToken ct)
    {
        var ids = events.SelectMany(e => e.Kind is EventKind.MemberJoined or EventKind.MemberLeft ? new[] { e.SenderUserId, e.SubjectId } : [e.SenderUserId]);
        await LearnUsersAsync(ids, ct).ConfigureAwait(false);
    }

    public async Task LearnUsersAsync(IEnumerable<Guid> ids, CancellationToken ct)
    {
        var missing = ids.Where(id => !_users.ContainsKey(id) && !_unknown.Contains(id)).Distinct().ToList();
        if (missing.Count == 0)
        {
            return;
        }

        foreach (var user in await api.GetUsersAsync(missing, ct).ConfigureAwait(false))
        {
            _users[user.UserId] = user.Username;
        }

        _unknown.UnionWith(missing.Where(id => !_users.ContainsKey(id)));
    }

    /// <summary>The user's username once learned; null otherwise.</summary>
    public string? Known(Guid id) => _users.GetValueOrDefault(id);

    /// <summary>The user's username once learned, else the id.</summary>
    public string User(Guid id) => _users.TryGetValue(id, out var name) ? name : id.ToString("D");

    /// <summary>The conversation as a person names it; its id when it is not one of mine.</summary>
    public async Task<string> ConversationAsync(Guid id, CancellationToken ct)
    {
        if (_conversations.TryGetValue(id, out var label))
        {
            return label;
        }

        if (!_conversationsLoaded)
        {
            await LoadConversationsAsync(ct).ConfigureAwait(false);
            _conversationsLoaded = true;
        }

        return _conversations.GetValueOrDefault(id, id.ToString("D"));
    }

    /// <summary>Forgets the conversation list, so a conversation created or joined since is labelled.</summary>
    public void ForgetConversations() => _conversationsLoaded = false;

    private async Task LoadConversationsAsync(CancellationToken ct)
    {
        var teams = (await api.ListTeamsAsync(ct).ConfigureAwait(false)).ToDictionary(t => t.TeamId, t => t.Name);
        var conversations = await api.ListConversationsAsync(ct).ConfigureAwait(false);
        await LearnUsersAsync(conversations.SelectMany(c => c.Members ?? []), ct).ConfigureAwait(false);
        foreach (var c in conversations)
        {
            if (c is { Name: { } name, TeamId: { } team })
            {
                _conversations[c.ConversationId] = $"#{name} ({teams.GetValueOrDefault(team, team.ToString("D"))})";
            }
            else
            {
                var others = (c.Members ?? []).Where(m => m != me).Select(User).ToList();
                _conversations[c.ConversationId] = (c.Type == "group" ? "group with " : "DM with ") + (others.Count == 0 ? "yourself" : string.Join(", ", others));
            }
        }
    }
}
