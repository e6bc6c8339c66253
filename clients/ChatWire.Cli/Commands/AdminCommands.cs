using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ChatWire.Protocol;

namespace ChatWire.Cli.Commands;

// chatwire admin …: the operator's management API on the server's management listener (docs/deploy.md,
// "Administration"), authorised by the server's Admin:Token, which the CLI reads from CHATWIRE_ADMIN_TOKEN (never
// an argument, which would land in the shell history and the process list). No profile or login is involved.
internal static class AdminCommands
{
    public const string TokenVariable = "CHATWIRE_ADMIN_TOKEN";
    public const string DefaultManagement = "http://127.0.0.1:7481";

    public static async Task<int> UsersAsync(CommandContext context)
    {
        var query = $"admin/v1/users?limit={context.IntOption("--limit", 1, 1000) ?? 100}";
        if (context.Option("--after") is { } after)
        {
            query += "&after=" + Uri.EscapeDataString(after);
        }

        var page = await CallAsync(context, HttpMethod.Get, query);
        var lines = page["users"]!.AsArray().Select(u => u!.AsObject()).Select(u =>
            $"{u["username"]}  {u["display_name"]}  {u["user_id"]}  sessions={u["active_sessions"]}{(u["disabled"]!.GetValue<bool>() ? "  DISABLED" : string.Empty)}{(u["deleted"]!.GetValue<bool>() ? "  DELETED" : string.Empty)}");
        var next = page["next_after"]?.GetValue<string>();
        await context.Output.WriteAsync(page, string.Join('\n', lines) + (next is null ? string.Empty : $"\n(more: --after {next})")).ConfigureAwait(false);
        return 0;
    }

    public static Task<int> ShowUserAsync(CommandContext context) => UserActionAsync(context, HttpMethod.Get, string.Empty, null, "");

    public static Task<int> DisableAsync(CommandContext context) =>
        UserActionAsync(context, HttpMethod.Post, "/disable", null, "Disabled {0}: it may not log in, and its sessions were ended.");

    public static Task<int> EnableAsync(CommandContext context) =>
        UserActionAsync(context, HttpMethod.Post, "/enable", null, "Enabled {0}: it may log in again.");

    public static Task<int> RevokeSessionsAsync(CommandContext context) =>
        UserActionAsync(context, HttpMethod.Post, "/revoke-sessions", null, "Ended the sessions of {0}.");

    public static Task<int> DeleteUserAsync(CommandContext context) =>
        context.Flag("--yes")
            ? UserActionAsync(context, HttpMethod.Delete, string.Empty, null, "Deleted {0}: the account is gone, its messages stay (from \"Deleted account\").")
            : throw new CliUsageException("admin user delete ends the account for good: add --yes to confirm.");

    // The new password from stdin (--password-stdin) or a hidden prompt, never an argument.
    public static async Task<int> ResetPasswordAsync(CommandContext context)
    {
        string? password;
        if (context.Flag("--password-stdin"))
        {
            password = await context.Io.Stdin.ReadLineAsync(context.Cancellation).ConfigureAwait(false);
        }
        else if (context.Io.StdinIsTerminal && context.Io.PasswordPrompt is { } prompt)
        {
            password = prompt("New password: ");
        }
        else
        {
            throw new CliUsageException("The new password is needed: pass --password-stdin with it on stdin, or run in a terminal to be prompted.");
        }

        return await UserActionAsync(context, HttpMethod.Post, "/password", new { password }, "Set a new password for {0}; its sessions were ended.").ConfigureAwait(false);
    }

    public static async Task<int> TeamsAsync(CommandContext context)
    {
        var query = $"admin/v1/teams?limit={context.IntOption("--limit", 1, 1000) ?? 100}";
        if (context.Option("--after") is { } after)
        {
            query += "&after=" + Uri.EscapeDataString(after);
        }

        var page = await CallAsync(context, HttpMethod.Get, query);
        var lines = page["teams"]!.AsArray().Select(t => t!.AsObject()).Select(t => $"{t["name"]}  {t["team_id"]}  members={t["members"]}");
        var next = page["next_after"]?.GetValue<string>();
        await context.Output.WriteAsync(page, string.Join('\n', lines) + (next is null ? string.Empty : $"\n(more: --after {next})")).ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> DeleteTeamAsync(CommandContext context)
    {
        if (!context.Flag("--yes"))
        {
            throw new CliUsageException("admin team delete removes everyone from the team and its channels, for good: add --yes to confirm.");
        }

        var result = await CallAsync(context, HttpMethod.Delete, "admin/v1/teams/" + Uri.EscapeDataString(context.Arguments[0]));
        await context.Output.WriteAsync(result, $"Deleted team {context.Arguments[0]} ({result["members"]} members removed).").ConfigureAwait(false);
        return 0;
    }

    // The directory is on the server's host: the server writes the backup, not this CLI.
    public static async Task<int> BackupAsync(CommandContext context)
    {
        var result = await CallAsync(context, HttpMethod.Post, "admin/v1/backup", new { directory = context.Arguments[0] });
        var files = result["files"]!.AsArray().Select(f => f!.AsObject()).ToList();
        var skipped = result["not_included"]!.AsArray().Select(n => "  not included: " + n).ToList();
        var text = $"Backed up {files.Count} files ({files.Sum(f => f["bytes"]!.GetValue<long>())} bytes) into {result["directory"]} on the server." +
            (skipped.Count == 0 ? string.Empty : "\n" + string.Join('\n', skipped));
        await context.Output.WriteAsync(result, text).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> UserActionAsync(CommandContext context, HttpMethod method, string suffix, object? body, string done)
    {
        var result = await CallAsync(context, method, "admin/v1/users/" + Uri.EscapeDataString(context.Arguments[0]) + suffix, body);
        var human = done.Length == 0
            ? string.Join('\n', result.Select(pair => $"{pair.Key}: {pair.Value?.ToJsonString()}"))
            : string.Format(System.Globalization.CultureInfo.InvariantCulture, done, context.Arguments[0]);
        await context.Output.WriteAsync(result, human).ConfigureAwait(false);
        return 0;
    }

    private static async Task<JsonObject> CallAsync(CommandContext context, HttpMethod method, string path, object? body = null)
    {
        var token = context.Io.Environment.TryGetValue(TokenVariable, out var value) && !string.IsNullOrWhiteSpace(value)
            ? value.Trim()
            : throw new CliUsageException($"Set {TokenVariable} to the server's Admin:Token (the management API is off without one).");
        var management = context.Option("--management") ?? (context.Io.Environment.TryGetValue("CHATWIRE_MANAGEMENT_URL", out var url) && !string.IsNullOrWhiteSpace(url) ? url : DefaultManagement);
        using var http = context.Io.HttpHandler is { } handler ? new HttpClient(handler, disposeHandler: false) : new HttpClient();
        http.BaseAddress = new Uri(CommandContext.ParseServer(management).ToString().TrimEnd('/') + "/");
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, context.Cancellation).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new CliException(ErrorCode.InternalError, $"Cannot reach the management listener at {management}: {ex.Message}");
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(context.Cancellation).ConfigureAwait(false);
            var json = text.Length == 0 ? new JsonObject() : JsonNode.Parse(text) as JsonObject ?? new JsonObject();
            if (!response.IsSuccessStatusCode)
            {
                var code = json["code"] is JsonValue c && c.TryGetValue<int>(out var number) ? (ErrorCode)number : ErrorCode.InternalError;
                throw new CliException(code, json["detail"]?.GetValue<string>() ?? $"The management API answered {(int)response.StatusCode}.");
            }

            return json;
        }
    }
}
