using System.Buffers;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.Gateway.Tests;

/// <summary>
/// The console log of a gateway process (docs/operations.md, "Logs"): every line timestamped by default, and
/// the audit lines (category ChatWire.Audit, event ids 200-209) for the security-relevant events, without
/// passwords, tokens or names that may be passwords.
/// </summary>
[Collection(RunAlone.Name)]
public sealed partial class AuditLogTests
{
    private const string Password = "correct horse battery";

    [Fact]
    public async Task AccountAndTeamEvents_EachLogAnAuditLine_WithTimestampsAndNoSecrets()
    {
        await using var node = await GatewayChild.StartAsync(4096, new Dictionary<string, string>
        {
            ["Logging:LogLevel:ChatWire.Audit"] = "Information",
            ["Auth:AttemptsPerIpPerMinute"] = "12",
        });
        var (alice, _) = await node.SignupAsync("alice");
        var (bob, _) = await node.SignupAsync("bob");
        var team = await node.CallAsync(alice, HttpMethod.Post, "v1/teams", new { name = "Acme" });
        var teamId = team.GetProperty("team_id").GetGuid();
        var invite = await node.CallAsync(alice, HttpMethod.Post, $"v1/teams/{teamId}/invites", new { });
        await node.CallAsync(bob, HttpMethod.Post, $"v1/invites/{invite.GetProperty("invite_code").GetString()}/join");
        var bobId = (await node.CallAsync(bob, HttpMethod.Get, "v1/me")).GetProperty("user_id").GetGuid();
        await node.CallAsync(alice, HttpMethod.Delete, $"v1/teams/{teamId}/members/{bobId}");

        var login = await node.Api.PostAsJsonAsync("v1/accounts/login", new { username = "alice", password = Password });
        var second = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("session_token").GetString()!;
        await node.Api.PostAsJsonAsync("v1/accounts/login", new { username = "alice", password = "wrong horse battery" });
        await node.Api.PostAsJsonAsync("v1/accounts/login", new { username = "my-secret-passphrase", password = Password });
        await node.CallAsync(second, HttpMethod.Post, "v1/accounts/logout");

        // Past the address's attempts: refusals, logged as one line per second at most.
        var refused = 0;
        for (var i = 0; i < 12 && refused == 0; i++)
        {
            var attempt = await node.Api.PostAsJsonAsync("v1/accounts/login", new { username = "alice", password = "wrong horse battery" });
            refused += attempt.StatusCode == HttpStatusCode.TooManyRequests ? 1 : 0;
        }

        Assert.Equal(1, refused);
        await node.StopAsync();

        var lines = node.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var (eventId, text) in new[]
        {
            (200, "sign-up of user"), (201, "login of user"), (202, "(wrong password)"), (203, "a name that is no user"),
            (204, "revoked (logout)"), (206, "refused as RATE_LIMITED"), (207, $"user {bobId} removed from team {teamId}"),
        })
        {
            Assert.Contains(lines, l => l.Contains($"ChatWire.Audit[{eventId}]", StringComparison.Ordinal) && l.Contains(text, StringComparison.Ordinal));
        }

        Assert.All(lines, l => Assert.Matches(Timestamp(), l));
        foreach (var secret in new[] { alice, bob, second, Password, "wrong horse battery", "my-secret-passphrase" })
        {
            Assert.DoesNotContain(secret, node.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task AdminActionAndProtocolRateLimit_EachLogAnAuditLine()
    {
        const string Token = "admin-token-for-audit-tests-0123456789";
        await using var node = await GatewayChild.StartAsync(4096, new Dictionary<string, string>
        {
            ["Logging:LogLevel:ChatWire.Audit"] = "Information",
            ["Admin:Token"] = Token,
            ["Limits:SendMessagesPerSecondPerDevice"] = "1",
            ["Limits:SendMessageBurstPerDevice"] = "2",
        });
        var (alice, device) = await node.SignupAsync("alice");
        var team = await node.CallAsync(alice, HttpMethod.Post, "v1/teams", new { name = "Acme" });
        var general = team.GetProperty("general_channel_id").GetGuid();
        var aliceId = (await node.CallAsync(alice, HttpMethod.Get, "v1/me")).GetProperty("user_id").GetGuid();

        // SENDs past one a second: refused, and audited at most once a second.
        await using (var client = await RawClient.ConnectAsync(node.Tcp))
        {
            await client.HandshakeAsync(alice, device);
            var limited = false;
            for (var i = 0; i < 20 && !limited; i++)
            {
                await client.SendAsync(new Send(client.NextRequestId(), general, Guid.CreateVersion7(), "text/plain", "hi"u8.ToArray()));
                limited = await AnswerIsRateLimitedAsync(client);
            }

            Assert.True(limited);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, $"admin/v1/users/{aliceId}/revoke-sessions");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
        Assert.Equal(HttpStatusCode.OK, (await node.ManagementClient.SendAsync(request)).StatusCode);
        await node.StopAsync();

        var lines = node.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains(lines, l => l.Contains("ChatWire.Audit[209]", StringComparison.Ordinal) && l.Contains($"SEND of user {aliceId}", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("ChatWire.Audit[208]", StringComparison.Ordinal) && l.Contains($"admin revoke-sessions of {aliceId}", StringComparison.Ordinal));
        Assert.DoesNotContain(Token, node.Output, StringComparison.Ordinal);
    }

    // Reads to the SEND's answer (its own EVENT may come first): true for RATE_LIMITED, false for SEND_ACK.
    private static async Task<bool> AnswerIsRateLimitedAsync(RawClient client)
    {
        while (await client.ReadFrameAsync() is { } frame)
        {
            if (frame.Header.OpcodeValue == (uint)Opcode.Error)
            {
                return FrameCodec.Decode<ErrorFrame>(new ReadOnlySequence<byte>(frame.Body), ProtocolLimits.Default).Code == ErrorCode.RateLimited;
            }

            if (frame.Header.OpcodeValue == (uint)Opcode.SendAck)
            {
                return false;
            }
        }

        throw new Xunit.Sdk.XunitException("The connection closed before the SEND was answered.");
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z ")]
    private static partial Regex Timestamp();
}
