using System.Text.Json.Nodes;
using ChatWire.Client;
using ChatWire.Protocol;

namespace ChatWire.Cli.Commands;

internal static class AccountCommands
{
    // The device as its owner would recognise it in "sessions": this machine's name.
    private static string DefaultDeviceName => "chatwire on " + (string.IsNullOrWhiteSpace(Environment.MachineName) ? "this machine" : Environment.MachineName);

    public static Task<int> SignupAsync(CommandContext context) => LogInAsync(context, signup: true);

    public static Task<int> LoginAsync(CommandContext context) => LogInAsync(context, signup: false);

    // password: the current password, then the new one (two lines with --password-stdin, else prompts on a
    // terminal, the new one twice). The server ends every other session of the user; this one stays.
    public static async Task<int> PasswordAsync(CommandContext context)
    {
        string current;
        string next;
        if (context.Flag("--password-stdin"))
        {
            current = await context.Io.Stdin.ReadLineAsync(context.Cancellation).ConfigureAwait(false) ?? string.Empty;
            next = await context.Io.Stdin.ReadLineAsync(context.Cancellation).ConfigureAwait(false) ?? string.Empty;
            if (current.Length == 0 || next.Length == 0)
            {
                throw new CliUsageException("--password-stdin: stdin must hold two lines, the current password and the new one.");
            }
        }
        else if (context.Io.StdinIsTerminal && context.Io.PasswordPrompt is { } prompt)
        {
            current = prompt("Current password: ") ?? string.Empty;
            next = prompt("New password: ") ?? string.Empty;
            if (prompt("Repeat new password: ") != next)
            {
                throw new CliUsageException("The new passwords do not match.");
            }
        }
        else
        {
            throw new CliUsageException("Passwords are needed: pass --password-stdin with two lines on stdin (current, new), or run in a terminal to be prompted.");
        }

        using var api = context.CreateApi(context.RequireLogin());
        await api.ChangePasswordAsync(current, next, context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(
            new JsonObject { ["changed"] = true },
            "Password changed. Your other devices were signed out; this one stays signed in.").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> LogoutAsync(CommandContext context)
    {
        var profile = context.RequireLogin();
        using (var api = context.CreateApi(profile))
        {
            try
            {
                await api.LogoutAsync(context.Cancellation).ConfigureAwait(false);
            }
            catch (ChatWireException ex) when (ex.Code is ErrorCode.InvalidToken or ErrorCode.SessionExpired or ErrorCode.SessionRevoked or ErrorCode.NotAuthenticated)
            {
                // The session is already over on the server; forgetting it here is all that is left to do.
            }
        }

        ForgetSession(context, profile);
        await context.Output.WriteAsync(
            new JsonObject { ["user_id"] = profile.UserId?.ToString("D"), ["device_id"] = profile.DeviceId?.ToString("D"), ["logged_out"] = true },
            $"Logged out {profile.Username} (device {profile.DeviceId:D}).").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> WhoAmIAsync(CommandContext context)
    {
        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        var me = await api.GetMeAsync(context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(
            new JsonObject
            {
                ["user_id"] = me.UserId.ToString("D"),
                ["username"] = me.Username,
                ["display_name"] = me.DisplayName,
                ["device_id"] = me.DeviceId.ToString("D"),
                ["server"] = profile.Server,
            },
            $"{me.Username} ({me.DisplayName}), user_id {me.UserId:D}, device_id {me.DeviceId:D}, on {profile.Server}").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> SessionsAsync(CommandContext context)
    {
        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        foreach (var session in await api.ListSessionsAsync(context.Cancellation).ConfigureAwait(false))
        {
            await context.Output.WriteAsync(
                new JsonObject
                {
                    ["device_id"] = session.DeviceId.ToString("D"),
                    ["device_name"] = session.DeviceName,
                    ["created_at"] = CliOutput.Time(session.CreatedAt),
                    ["last_used_at"] = session.LastUsedAt is { } used ? CliOutput.Time(used) : null,
                    ["current"] = session.Current,
                },
                $"{session.DeviceId:D}  {session.DeviceName ?? "(unnamed)"}  created {CliOutput.Time(session.CreatedAt)}"
                    + (session.LastUsedAt is { } last ? $"  last used {CliOutput.Time(last)}" : string.Empty)
                    + (session.Current ? "  (this device)" : string.Empty)).ConfigureAwait(false);
        }

        return 0;
    }

    public static async Task<int> RevokeSessionAsync(CommandContext context)
    {
        var all = context.Flag("--all");
        if (all == (context.Arguments.Count == 1))
        {
            throw new CliUsageException("sessions revoke takes either a DEVICE or --all.");
        }

        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        if (all)
        {
            await api.RevokeAllSessionsAsync(context.Cancellation).ConfigureAwait(false);
            ForgetSession(context, profile);
            await context.Output.WriteAsync(new JsonObject { ["revoked"] = "all" }, "Revoked every session, this one included.").ConfigureAwait(false);
            return 0;
        }

        var session = await NameResolver.ResolveSessionAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        await api.RevokeSessionAsync(session.DeviceId, context.Cancellation).ConfigureAwait(false);
        if (session.DeviceId == profile.DeviceId)
        {
            ForgetSession(context, profile);
        }

        await context.Output.WriteAsync(
            new JsonObject { ["device_id"] = session.DeviceId.ToString("D"), ["revoked"] = true },
            $"Revoked the session of device {session.DeviceId:D}.").ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> LogInAsync(CommandContext context, bool signup)
    {
        var existing = context.Profiles.Load(context.ProfileName);
        var server = context.Option("--server") ?? existing?.Server
            ?? throw new CliUsageException($"--server is required (profile \"{context.ProfileName}\" has no server yet).");
        _ = CommandContext.ParseServer(server);
        var user = context.Option("--user") ?? throw new CliUsageException("--user is required.");
        var password = await context.ReadPasswordAsync(confirm: signup).ConfigureAwait(false);
        var deviceName = context.Option("--device-name") ?? DefaultDeviceName;

        using var api = context.CreateApi(server, sessionToken: null);
        var result = signup
            ? await api.SignupAsync(new SignupRequest(user, password, context.Option("--display-name"), deviceName), context.Cancellation).ConfigureAwait(false)
            : await api.LoginAsync(new LoginRequest(user, password, deviceName), context.Cancellation).ConfigureAwait(false);

        // The Noise pins stay while the server does: logging in again must not turn a changed key into a first use.
        var pins = existing?.Server == server ? existing.NoisePins : null;
        context.Profiles.Save(context.ProfileName, new CliProfile(server, result.UserId, result.Username, result.DeviceId, result.SessionToken, NoisePins: pins));
        var e2e = await DeviceCommands.SetUpAfterLoginAsync(context, api, result).ConfigureAwait(false);
        await context.Output.WriteAsync(
            new JsonObject
            {
                ["user_id"] = result.UserId.ToString("D"),
                ["username"] = result.Username,
                ["display_name"] = result.DisplayName,
                ["device_id"] = result.DeviceId.ToString("D"),
                ["server"] = server,
                ["profile"] = context.ProfileName,
                ["e2e"] = e2e,
            },
            $"{(signup ? "Signed up" : "Logged in")} as {result.Username} (user_id {result.UserId:D}, device_id {result.DeviceId:D}); profile \"{context.ProfileName}\" saved.")
            .ConfigureAwait(false);
        return 0;
    }

    // Keeps the server and username for the next login; drops what belonged to the ended session.
    private static void ForgetSession(CommandContext context, CliProfile profile) =>
        context.Profiles.Save(context.ProfileName, profile with { UserId = null, DeviceId = null, SessionToken = null });
}
