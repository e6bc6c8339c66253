namespace ChatWire.Cli.Commands;

/// <summary>A verb: its words, how many positional arguments it takes, which options, and what it runs.</summary>
internal sealed record CommandSpec(string Name, int MinArguments, int MaxArguments, IReadOnlyList<string> Options, Func<CommandContext, Task<int>> RunAsync)
{
    public const int Unbounded = int.MaxValue;

    public string[] Words { get; } = Name.Split(' ');
}

internal static class CommandTable
{
    public static IReadOnlyList<CommandSpec> All { get; } =
    [
        new("signup", 0, 0, ["--server", "--user", "--password-stdin", "--display-name", "--device-name"], AccountCommands.SignupAsync),
        new("login", 0, 0, ["--server", "--user", "--password-stdin", "--display-name", "--device-name"], AccountCommands.LoginAsync),
        new("logout", 0, 0, [], AccountCommands.LogoutAsync),
        new("whoami", 0, 0, [], AccountCommands.WhoAmIAsync),
        new("server-key", 0, 0, [], ServerCommands.ServerKeyAsync),
        new("sessions", 0, 0, [], AccountCommands.SessionsAsync),
        new("sessions revoke", 0, 1, ["--all"], AccountCommands.RevokeSessionAsync),
        new("devices", 0, 0, [], DeviceCommands.ListAsync),
        new("devices approve", 1, 1, [], DeviceCommands.ApproveAsync),
        new("devices revoke", 1, 1, [], DeviceCommands.RevokeAsync),
        new("devices wait", 0, 0, ["--timeout"], DeviceCommands.WaitAsync),
        new("recover", 0, 0, ["--recovery-key-stdin"], DeviceCommands.RecoverAsync),
        new("verify", 1, 1, ["--confirm", "--clear"], DeviceCommands.VerifyAsync),
        new("admin users", 0, 0, ["--management", "--limit", "--after"], AdminCommands.UsersAsync),
        new("admin user", 1, 1, ["--management"], AdminCommands.ShowUserAsync),
        new("admin user disable", 1, 1, ["--management"], AdminCommands.DisableAsync),
        new("admin user enable", 1, 1, ["--management"], AdminCommands.EnableAsync),
        new("admin user revoke-sessions", 1, 1, ["--management"], AdminCommands.RevokeSessionsAsync),
        new("admin user password", 1, 1, ["--management", "--password-stdin"], AdminCommands.ResetPasswordAsync),
        new("admin user delete", 1, 1, ["--management", "--yes"], AdminCommands.DeleteUserAsync),
        new("admin teams", 0, 0, ["--management", "--limit", "--after"], AdminCommands.TeamsAsync),
        new("admin team delete", 1, 1, ["--management", "--yes"], AdminCommands.DeleteTeamAsync),
        new("admin backup", 1, 1, ["--management"], AdminCommands.BackupAsync),
        new("password", 0, 0, ["--password-stdin"], AccountCommands.PasswordAsync),
        new("team create", 1, 1, [], TeamCommands.CreateAsync),
        new("team join", 1, 1, [], TeamCommands.JoinAsync),
        new("teams", 0, 0, [], TeamCommands.ListAsync),
        new("team invite", 1, 1, [], TeamCommands.InviteAsync),
        new("team mute", 1, 1, [], TeamCommands.MuteAsync),
        new("team unmute", 1, 1, [], TeamCommands.UnmuteAsync),
        new("team leave", 1, 1, [], TeamCommands.LeaveAsync),
        new("team invites", 1, 1, [], TeamCommands.InvitesAsync),
        new("team invite revoke", 2, 2, [], TeamCommands.RevokeInviteAsync),
        new("team promote", 2, 2, [], TeamCommands.PromoteAsync),
        new("team demote", 2, 2, [], TeamCommands.DemoteAsync),
        new("team transfer", 2, 2, [], TeamCommands.TransferAsync),
        new("team delete", 1, 1, ["--yes"], TeamCommands.DeleteAsync),
        new("members", 1, 1, ["--prefix", "--limit"], TeamCommands.MembersAsync),
        new("channel create", 2, 2, ["--private"], ConversationCommands.CreateChannelAsync),
        new("channels", 1, 1, [], ConversationCommands.ListChannelsAsync),
        new("channel join", 1, 1, [], ConversationCommands.JoinChannelAsync),
        new("channel leave", 1, 1, [], ConversationCommands.LeaveChannelAsync),
        new("channel add", 2, 2, [], ConversationCommands.AddChannelMemberAsync),
        new("channel members", 1, 1, [], ConversationCommands.ChannelMembersAsync),
        new("channel rename", 2, 2, [], ConversationCommands.RenameChannelAsync),
        new("channel archive", 1, 1, [], ConversationCommands.ArchiveChannelAsync),
        new("channel unarchive", 1, 1, [], ConversationCommands.UnarchiveChannelAsync),
        new("channel slow-mode", 2, 2, [], ConversationCommands.SetSlowModeAsync),
        new("channel topic", 1, CommandSpec.Unbounded, [], ConversationCommands.SetTopicAsync),
        new("conversations", 0, 0, [], ConversationCommands.ListConversationsAsync),
        new("dm", 1, 7, [], ConversationCommands.OpenDirectAsync),
        new("send", 1, CommandSpec.Unbounded, ["--message-id", "--plaintext-content", "--file"], MessageCommands.SendAsync),
        new("download", 1, 1, ["--out", "--thumbnail", "--force"], MessageCommands.DownloadAsync),
        new("history", 1, 1, ["--limit", "--before"], MessageCommands.HistoryAsync),
        new("listen", 0, 0, ["--skip-muted"], MessageCommands.ListenAsync),
        new("reply", 2, CommandSpec.Unbounded, [], ChangeCommands.ReplyAsync),
        new("thread", 1, 1, [], ChangeCommands.ThreadAsync),
        new("edit", 2, CommandSpec.Unbounded, [], ChangeCommands.EditAsync),
        new("delete", 1, 1, [], ChangeCommands.DeleteAsync),
        new("react", 2, 2, [], ChangeCommands.ReactAsync),
        new("unreact", 2, 2, [], ChangeCommands.UnreactAsync),
        new("read", 1, 2, [], ChangeCommands.ReadAsync),
        new("unread", 0, 0, [], ChangeCommands.UnreadAsync),
        new("presence", 1, 1, [], PresenceCommands.PresenceAsync),
        new("status", 1, 1, [], PresenceCommands.StatusAsync),
        new("typing", 1, 1, [], PresenceCommands.TypingAsync),
    ];

    // The longest command whose words start the command line, e.g. "team create" before a one-word match.
    public static (CommandSpec Spec, List<string> Arguments) Find(IReadOnlyList<string> words)
    {
        if (words.Count == 0)
        {
            throw new CliUsageException("No command given.");
        }

        var best = All
            .Where(spec => spec.Words.Length <= words.Count && spec.Words.Select((word, i) => word == words[i]).All(match => match))
            .MaxBy(spec => spec.Words.Length)
            ?? throw new CliUsageException(
                All.Any(spec => spec.Words[0] == words[0])
                    ? $"Unknown command \"{string.Join(' ', words.Take(2))}\"."
                    : $"Unknown command \"{words[0]}\".");

        return (best, words.Skip(best.Words.Length).ToList());
    }
}
