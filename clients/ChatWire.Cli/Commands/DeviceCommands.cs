using System.Text.Json.Nodes;
using ChatWire.Client;
using ChatWire.Client.Secure;

namespace ChatWire.Cli.Commands;

// End-to-end device management (docs/cli.md, "Encryption"): which of my devices hold the keys, approving a new
// one by the code it shows, revoking one, and the safety number to compare with another user.
internal static class DeviceCommands
{
    // After signup or login: set this device's keys up. The first device of a user becomes its key holder (and
    // shows the recovery key once); a later device waits for approval and says how to give it.
    public static async Task<JsonObject> SetUpAfterLoginAsync(CommandContext context, ChatWireApiClient api, AuthResult result)
    {
        using var secure = context.CreateSecure(api);
        try
        {
            var setup = await secure.SetUpDeviceAsync(result.UserId, result.DeviceId, context.Cancellation).ConfigureAwait(false);
            if (setup.RecoveryKey is { } recovery)
            {
                await context.Output.Stderr.WriteLineAsync(
                    $"Encryption is set up. Your recovery key (write it down; it is shown only now): {recovery}").ConfigureAwait(false);
            }
            else if (!setup.Approved)
            {
                await context.Output.Stderr.WriteLineAsync(
                    $"This device is pending approval. On a trusted device run: chatwire devices approve {setup.LinkCode}").ConfigureAwait(false);
            }

            return new JsonObject { ["approved"] = setup.Approved, ["link_code"] = setup.LinkCode, ["recovery_key"] = setup.RecoveryKey };
        }
        catch (Exception ex) when (ex is SecureMessagingException or ChatWireException)
        {
            // Logged in all the same: messaging will say what is missing.
            await context.Output.Stderr.WriteLineAsync($"chatwire: warning: could not set up encryption keys: {ex.Message}").ConfigureAwait(false);
            return new JsonObject { ["approved"] = false, ["e2e_error"] = ex.Message };
        }
    }

    public static async Task<int> ListAsync(CommandContext context)
    {
        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        using var secure = await RequireSecureAsync(context, api).ConfigureAwait(false);
        foreach (var device in await secure.ListDevicesAsync(context.Cancellation).ConfigureAwait(false))
        {
            await context.Output.WriteAsync(
                new JsonObject
                {
                    ["device_id"] = device.DeviceId.ToString("D"),
                    ["device_name"] = device.DeviceName,
                    ["state"] = device.State,
                    ["current"] = device.Current,
                },
                $"{device.DeviceId:D}  {device.DeviceName ?? "(unnamed)"}  {device.State}{(device.Current ? "  (this device)" : string.Empty)}").ConfigureAwait(false);
        }

        return 0;
    }

    public static async Task<int> ApproveAsync(CommandContext context)
    {
        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        using var secure = await RequireSecureAsync(context, api).ConfigureAwait(false);
        var device = await secure.ApproveDeviceAsync(context.Arguments[0], context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(
            new JsonObject { ["device_id"] = device.DeviceId.ToString("D"), ["device_name"] = device.DeviceName, ["approved"] = true },
            $"Approved device {device.DeviceId:D} ({device.DeviceName ?? "unnamed"}); it gets the keys the next time it connects.").ConfigureAwait(false);
        return 0;
    }

    // Blocks until this pending device is approved, for a script that logs in and then waits for the person to approve
    // it: over a connection, woken by the server's KEYS_CHANGED push (and checking each minute anyway), or asking every
    // 2 s when no connection can be opened; --timeout SECONDS (default 300) gives up with E2E_NOT_APPROVED.
    public static async Task<int> WaitAsync(CommandContext context)
    {
        var timeout = context.IntOption("--timeout", 1, 86_400) ?? 300;
        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        using var secure = await RequireSecureAsync(context, api).ConfigureAwait(false);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.Cancellation);
        deadline.CancelAfter(TimeSpan.FromSeconds(timeout));
        ChatWireConnection? connection = null;
        try
        {
            if (!await secure.SyncOwnKeysAsync(deadline.Token).ConfigureAwait(false))
            {
                connection = await ConnectForPushesAsync(context, api, profile, deadline.Token).ConfigureAwait(false);
                await (connection is null
                    ? secure.WaitForApprovalAsync(cancellationToken: deadline.Token)
                    : secure.WaitForApprovalAsync(connection, cancellationToken: deadline.Token)).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !context.Cancellation.IsCancellationRequested)
        {
            throw new SecureMessagingException(
                SecureFailure.NotApproved, $"This device was not approved within {timeout} s. On a trusted device run: chatwire devices approve CODE (the code login printed).");
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }

        await context.Output.WriteAsync(new JsonObject { ["approved"] = true }, "This device is approved: it reads what its user can.").ConfigureAwait(false);
        return 0;
    }

    // A connection whose KEYS_CHANGED pushes wake the wait; null (after a warning) when none can be opened, so the
    // wait asks over HTTP instead, as it did before there were pushes.
    private static async Task<ChatWireConnection?> ConnectForPushesAsync(CommandContext context, ChatWireApiClient api, CliProfile profile, CancellationToken deadline)
    {
        try
        {
            var (connection, _) = await context.ConnectAsync(api, profile, reconnect: true).WaitAsync(deadline).ConfigureAwait(false);
            return connection;
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
        {
            await context.Output.Stderr.WriteLineAsync($"chatwire: warning: no connection for the server's pushes ({ex.Message}); asking every 2 s instead.").ConfigureAwait(false);
            return null;
        }
    }

    public static async Task<int> RevokeAsync(CommandContext context)
    {
        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        using var secure = await RequireSecureAsync(context, api).ConfigureAwait(false);
        var deviceId = Guid.TryParse(context.Arguments[0], out var parsed)
            ? parsed
            : (await NameResolver.ResolveSessionAsync(api, context.Arguments[0], context.Cancellation).ConfigureAwait(false)).DeviceId;
        if (deviceId == profile.DeviceId)
        {
            throw new CliUsageException("A device cannot revoke itself; run logout on it, or devices revoke from another device.");
        }

        await secure.RevokeDeviceAsync(deviceId, context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(
            new JsonObject { ["device_id"] = deviceId.ToString("D"), ["revoked"] = true },
            $"Revoked device {deviceId:D}: its session ended and it gets no keys from now on.").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> VerifyAsync(CommandContext context)
    {
        var profile = context.RequireLogin();
        using var api = context.CreateApi(profile);
        using var secure = await RequireSecureAsync(context, api).ConfigureAwait(false);
        var user = await NameResolver.ResolveUserAsync(api, context.Arguments[0], teamId: null, context.Cancellation).ConfigureAwait(false);
        var confirm = context.Option("--confirm");
        if (confirm is not null && context.Flag("--clear"))
        {
            throw new CliUsageException("verify takes --confirm NUMBER or --clear, not both.");
        }

        if (user == profile.UserId)
        {
            throw new CliUsageException("verify compares your account key with another user's; name someone else.");
        }

        if (context.Flag("--clear"))
        {
            await secure.ClearVerificationAsync(user, context.Cancellation).ConfigureAwait(false);
        }

        if (confirm is not null)
        {
            await secure.MarkVerifiedAsync(user, confirm, context.Cancellation).ConfigureAwait(false);
        }

        var number = await secure.SafetyNumberAsync(user, context.Cancellation).ConfigureAwait(false);
        var state = await secure.VerificationAsync(user, context.Cancellation).ConfigureAwait(false);
        var who = context.Arguments[0];
        var (name, advice) = state switch
        {
            UserVerification.Verified => ("verified", $"Verified: you compared this number with {who}. If their key changes, sending to them stops until you verify again."),
            UserVerification.KeyChangedSinceVerified => ("key_changed",
                $"{who}'s account key CHANGED since you verified it: new messages to them, and new ones from them, are refused. Compare this new number with theirs; if it matches: {context.Self} verify {who} --confirm \"{number}\". To accept the new key without comparing: {context.Self} verify {who} --clear."),
            _ => ("unverified", $"Not verified. Compare it with theirs in person or on a call; if it matches, nobody is in between: {context.Self} verify {who} --confirm \"{number}\"."),
        };
        await context.Output.WriteAsync(
            new JsonObject { ["user_id"] = user.ToString("D"), ["safety_number"] = number, ["verification"] = name },
            $"Safety number with {who}:\n{number}\n{advice}").ConfigureAwait(false);
        return 0;
    }

    // The key file of this profile, synced with what other devices left for it (approval, a new history key).
    // recover: on a new login after every device was lost, restores the keys with the recovery key printed at
    // signup (one line on stdin with --recovery-key-stdin, else a hidden prompt; never an argument, which would
    // land in the shell history). The other devices' sessions end: see docs/cli.md "Encryption".
    public static async Task<int> RecoverAsync(CommandContext context)
    {
        var profile = context.RequireLogin();
        string recoveryKey;
        if (context.Flag("--recovery-key-stdin"))
        {
            recoveryKey = await context.Io.Stdin.ReadLineAsync(context.Cancellation).ConfigureAwait(false) ?? string.Empty;
        }
        else if (context.Io.StdinIsTerminal && context.Io.PasswordPrompt is { } prompt)
        {
            recoveryKey = prompt("Recovery key: ") ?? string.Empty;
        }
        else
        {
            throw new CliUsageException("The recovery key is needed: pass --recovery-key-stdin with it on stdin, or run in a terminal to be prompted.");
        }

        if (string.IsNullOrWhiteSpace(recoveryKey))
        {
            throw new CliUsageException("The recovery key is empty.");
        }

        using var api = context.CreateApi(profile);
        using var secure = context.CreateSecure(api);
        await secure.RecoverAsync(profile.UserId!.Value, profile.DeviceId!.Value, recoveryKey, context.Cancellation).ConfigureAwait(false);
        await context.Output.WriteAsync(
            new JsonObject { ["device_id"] = profile.DeviceId.Value.ToString("D"), ["recovered"] = true },
            "Keys recovered: this device is now your only approved device; your other sessions were ended.").ConfigureAwait(false);
        return 0;
    }

    public static async Task<SecureClient> RequireSecureAsync(CommandContext context, ChatWireApiClient api)
    {
        var secure = context.CreateSecure(api);
        if (!secure.HasKeys)
        {
            secure.Dispose();
            throw new CliException(ChatWire.Protocol.ErrorCode.InvalidState, "This device has no encryption keys; log in again to set them up.");
        }

        await secure.SyncOwnKeysAsync(context.Cancellation).ConfigureAwait(false);
        return secure;
    }
}
