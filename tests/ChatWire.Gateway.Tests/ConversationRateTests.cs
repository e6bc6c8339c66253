using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Gateway.Tests;

// docs/security.md, "Sending": one conversation takes Limits:SendMessagesPerSecondPerConversation SENDs, EDITs,
// DELETEs and REACTs a second over all its members (bursts of SendMessageBurstPerConversation); past that, RATE_LIMITED
// with retry_after_ms. Counted after the membership check, so outsiders cannot spend it.
public sealed class ConversationRateTests
{
    [Fact]
    public async Task ABusyConversation_RateLimitsItsMembersTogether_OutsidersSpendNothing_OtherConversationsUntouched()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            // One every 5 s: the connection's read pause after a refusal (at most 1 s) is over long before the next one.
            ["Limits:SendMessagesPerSecondPerConversation"] = "0.2",
            ["Limits:SendMessageBurstPerConversation"] = "3",
        });
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var carol = await server.SignupAsync();
        var (teamId, general) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        var dm = await alice.OpenDmAsync(bob.Username);
        await using var alices = await RawClient.ConnectAuthenticatedAsync(alice);
        await using var bobs = await RawClient.ConnectAuthenticatedAsync(bob);
        await using var carols = await RawClient.ConnectAuthenticatedAsync(carol);

        // Carol is not in the team: her SENDs are refused before the conversation's budget is looked at.
        for (var i = 0; i < 5; i++)
        {
            await carols.SendAsync(new Send(carols.NextRequestId(), general, Guid.CreateVersion7(), "text/plain", "let me in"u8.ToArray()));
            Assert.Equal(ErrorCode.NotAMember, (await carols.ExpectErrorAsync()).Code);
        }

        // The burst of three is shared by the members. The bucket refills all along, so the wait it answers is the
        // interval less the time these took (long on a busy machine).
        var charging = System.Diagnostics.Stopwatch.StartNew();
        var first = await alices.SendTextAsync(general, "one");
        await alices.SendTextAsync(general, "two");
        await bobs.SendTextAsync(general, "three");
        var messageId = Guid.CreateVersion7();
        await bobs.SendAsync(new Send(40, general, messageId, "text/plain", "four"u8.ToArray()));
        var limited = await bobs.ExpectErrorAsync();
        var charged = (uint)Math.Ceiling(charging.Elapsed.TotalMilliseconds);
        await bobs.SendAsync(new React(41, general, first.MessageId, "👍", Remove: false));
        var reactLimited = await bobs.ExpectErrorAsync();

        // Another conversation has a budget of its own.
        var elsewhere = await alices.SendTextAsync(dm, "psst");

        // After the delay, the same message is taken.
        await Task.Delay(TimeSpan.FromMilliseconds(limited.RetryAfterMs + 50));
        var resent = await bobs.SendTextAsync(general, "four", messageId);

        Assert.Equal((40u, ErrorCode.RateLimited), (limited.RequestId, limited.Code));
        Assert.InRange(limited.RetryAfterMs, 5000u - Math.Min(charged, 4000u), 5000u);
        Assert.Contains("conversation", limited.Message, StringComparison.Ordinal);
        Assert.Equal((41u, ErrorCode.RateLimited), (reactLimited.RequestId, reactLimited.Code));
        Assert.True(reactLimited.RetryAfterMs > 0);
        Assert.True(elsewhere.Seq > 0);
        Assert.Equal(4ul, resent.Seq - first.Seq + 1);
    }

    [Fact]
    public async Task ChangesThatChangeNothing_AndResends_GiveTheConversationsBudgetBack()
    {
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:SendMessagesPerSecondPerConversation"] = "0.2",
            ["Limits:SendMessageBurstPerConversation"] = "3",
        });
        var alice = await server.SignupAsync();
        var bob = await server.SignupAsync();
        var (teamId, general) = await alice.CreateTeamAsync();
        await bob.JoinAsync(await alice.InviteAsync(teamId));
        await using var alices = await RawClient.ConnectAuthenticatedAsync(alice);
        await using var bobs = await RawClient.ConnectAuthenticatedAsync(bob);
        var first = await alices.SendTextAsync(general, "one");

        // Each of these passes the bucket and stores nothing: a reaction taken back that was never there, an edit of
        // someone else's message, a resend of a stored message.
        for (var i = 0; i < 4; i++)
        {
            await bobs.SendAsync(new React(bobs.NextRequestId(), general, first.MessageId, "👍", Remove: true));
            await bobs.ExpectAsync<Ok>();
            await bobs.SendAsync(new Edit(bobs.NextRequestId(), general, first.MessageId, "text/plain", "mine now"u8.ToArray()));
            Assert.Equal(ErrorCode.Forbidden, (await bobs.ExpectErrorAsync()).Code);
            Assert.Equal(first.Seq, (await alices.SendTextAsync(general, "one", first.MessageId)).Seq);
        }

        // So the burst has its two other messages left, and then it is spent.
        var second = await bobs.SendTextAsync(general, "two");
        var third = await alices.SendTextAsync(general, "three");
        await bobs.SendAsync(new Send(90, general, Guid.CreateVersion7(), "text/plain", "four"u8.ToArray()));
        var limited = await bobs.ExpectErrorAsync();

        Assert.Equal((first.Seq + 1, first.Seq + 2), (second.Seq, third.Seq));
        Assert.Equal((90u, ErrorCode.RateLimited), (limited.RequestId, limited.Code));
    }
}
