namespace ChatWire.Cli;

/// <summary>A command line the CLI cannot run as given: exit status 2, usage on stderr.</summary>
internal sealed class CliUsageException(string message) : Exception(message);

internal static class CliUsage
{
    /// <summary>The first line of the usage text: how every command line is shaped.</summary>
    public static string Synopsis => Text[..Text.IndexOf('\n', StringComparison.Ordinal)];

    /// <summary>
    /// The usage lines of the verb (or family of verbs, as "team") the words start with, the first as
    /// "Usage: chatwire …"; null when no verb starts so.
    /// </summary>
    public static string? For(IReadOnlyList<string> words)
    {
        if (words.Count == 0)
        {
            return null;
        }

        // Longest prefix of the words that starts some usage line.
        for (var n = Math.Min(words.Count, 3); n > 0; n--)
        {
            var prefix = string.Join(' ', words.Take(n));
            var lines = Text.Split('\n')
                .Select(line => line.Trim())
                .Where(line => line == prefix || line.StartsWith(prefix + " ", StringComparison.Ordinal))
                .ToList();
            if (lines.Count > 0)
            {
                return string.Join(Environment.NewLine, lines.Select((line, i) => (i == 0 ? "Usage: chatwire " : "       chatwire ") + line));
            }
        }

        return null;
    }

    public const string Text = """
        Usage: chatwire [--profile NAME] [--json] [--transport noise|tls|tcp] [--insecure | --ca-file PEM] [--plaintext] COMMAND [ARGS...]

        Accounts:
          signup --server URL --user NAME [--password-stdin] [--display-name NAME] [--device-name NAME]
          login [--server URL] --user NAME [--password-stdin] [--device-name NAME]
          logout
          whoami
          server-key [--accept-new-server-key | --noise-key HEX]   the server's Noise key, checked against the profile's pin
          sessions
          sessions revoke DEVICE | --all
          password [--password-stdin]          (current, then new: two lines on stdin; other sessions end)
        Encryption (on by default; docs/cli.md "Encryption"):
          devices                              my devices: approved, pending or without keys
          devices approve CODE                 approve my new device showing CODE (XXXXX-XXXXX) after its login
          devices revoke DEVICE                end a device's session; it gets no keys from now on
          devices wait [--timeout SECONDS]     wait until this device is approved (default 300 s)
          recover [--recovery-key-stdin]       after losing every device: restore the keys with the recovery key
          verify USER [--confirm NUMBER | --clear]
                                               the safety number to compare with USER; --confirm marks
                                               USER verified with the number that matched, --clear unmarks
        Teams:
          team create NAME                     creates the team and an invite (team_id, invite_code)
          team join INVITE
          teams
          team invite TEAM
          team mute TEAM | team unmute TEAM | team leave TEAM
          team invites TEAM | team invite revoke TEAM INVITE
          team promote TEAM USER | team demote TEAM USER   (admin / plain member; owners only)
          team transfer TEAM USER              (USER becomes an owner, you an admin)
          team delete TEAM --yes               (owners; everyone leaves; no undo)
          members TEAM [--prefix P] [--limit N]
        Channels and conversations:
          channel create TEAM NAME [--private]
          channels TEAM
          channel join CHANNEL | channel leave CHANNEL
          channel add CHANNEL USER | channel members CHANNEL
          channel rename CHANNEL NAME | channel archive CHANNEL | channel unarchive CHANNEL
          channel slow-mode CHANNEL SECONDS   one message per SECONDS from each member (0 turns it off)
          channel topic CHANNEL [TEXT...]     set the line shown at the channel's head (no TEXT clears it)
          conversations
          dm USER...
        Messages (over TCP):
          send CONVERSATION TEXT [--message-id ID]   (TEXT "-" reads stdin; @name, @channel, @here mention)
          send CONVERSATION TEXT --plaintext-content (not end-to-end encrypted: for members without keys)
          send CONVERSATION --file PATH              (encrypted attachment; image metadata removed first)
          download MESSAGE --out PATH [--force]      (an attachment: hash checked, decrypted; --force keeps an image unlike its message)
          download MESSAGE --out PATH --thumbnail    (an image's thumbnail, a JPEG of at most 320 px)
          history CONVERSATION [--limit N] [--before SEQ]   (oldest first; default 20)
          listen [--skip-muted]                      (every event, until Ctrl+C; --skip-muted leaves out muted teams)
          reply MESSAGE TEXT                         (in MESSAGE's thread)
          thread MESSAGE                             (the thread's root and replies)
          edit MESSAGE TEXT | delete MESSAGE
          react MESSAGE EMOJI | unreact MESSAGE EMOJI
          read CONVERSATION [SEQ]                    (marks read on all my devices; default: everything)
          unread                                     (conversations with unread messages)
          typing CONVERSATION                        (the others see "typing…" for a few seconds)
        Presence:
          presence TEAM                              (every member: online, away, dnd or offline)
          status online|away|dnd                     (kept while a device of yours is connected)

        Administration (the server's operator; the token from CHATWIRE_ADMIN_TOKEN, docs/deploy.md):
          admin users [--limit N] [--after USERNAME]          every account, by username
          admin user USER                                     one account (USER: a username or a user id)
          admin user disable USER | admin user enable USER    disabled: no login, sessions ended
          admin user password USER [--password-stdin]         a new password; sessions ended
          admin user revoke-sessions USER
          admin user delete USER --yes                        the account goes; its messages stay
          admin teams [--limit N] [--after TEAM_ID] | admin team delete TEAM_ID --yes
          admin backup DIRECTORY                              online backup into DIRECTORY on the server's host
          (--management URL: the management listener, default http://127.0.0.1:7481 or CHATWIRE_MANAGEMENT_URL)

        Options:
          --profile NAME    profile in $XDG_CONFIG_HOME/chatwire (default ~/.config/chatwire), "default" if absent
          --json            print one JSON object per line
          --insecure        accept an untrusted TLS certificate (a development server's own); saved in the profile
          --ca-file PEM     trust the server's certificate when issued by this CA; saved in the profile
          --plaintext       allow plain TCP to a server that is not on this machine (no TLS)
          --transport T     noise, tls or tcp (default: noise when the server offers it, else tls off this machine, else tcp)
          --noise-key HEX   connect only to a Noise server proving this key (64 hex digits); then pinned in the profile
          --accept-new-server-key   take a Noise server key that changed since it was pinned (check it first)
          --password-stdin  read the password from the first line of stdin (otherwise a prompt on a terminal)
          -h, --help        print this help (after a verb: that verb's usage)
          --version         print the CLI's version

        TEAM is a team id or name; CHANNEL a conversation id, a channel name or TEAM/CHANNEL;
        CONVERSATION a conversation id, a channel name, or @USER for the DM with USER (@a,b a group);
        USER a user id or username;
        MESSAGE a message id (history --json prints them as message_id).
        Exit status: 0 done, 1 failed (the server's error code is printed), 2 usage error, 130 interrupted (Ctrl+C).
        """;
}
