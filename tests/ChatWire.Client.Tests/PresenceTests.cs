using ChatWire.Cli;
using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// Presence (online while any device is connected, a chosen status, last seen) and typing, through the SDK,
// the HTTP roster and the CLI, against the real gateway.
public sealed class PresenceTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private TestServer Server => fixture.Server;

    [Fact]
    public async Task Watch_SeesATeammateComeOnlineChangeStatusAndLeave_NotAStranger()
    {
        var crew = await Crew.CreateAsync(Server);
        var stranger = await Server.SignupAsync();
        var bobPhone = await Server.LoginAsync(crew.Bob);
        await using var alice = await Sdk.ConnectAsync(crew.Alice);
        var log = new EventLog(alice);

        // Every id asked for, in order, a repeated one as often as asked.
        var initial = await alice.WatchPresenceAsync([crew.Bob.UserId, stranger.UserId, crew.Bob.UserId]);
        Assert.Equal([new PresenceEntry(crew.Bob.UserId, PresenceStatus.Offline, 0), new PresenceEntry(stranger.UserId, PresenceStatus.Offline, 0), new PresenceEntry(crew.Bob.UserId, PresenceStatus.Offline, 0)], initial);

        var bob = await Sdk.ConnectAsync(crew.Bob);
        Assert.Equal(PresenceStatus.Online, (await log.NextOfAsync<PresenceChanged>()).Status);
        await using (var phone = await Sdk.ConnectAsync(bobPhone))
        {
            await phone.SetStatusAsync(PresenceStatus.Away);
            Assert.Equal(new PresenceChanged(crew.Bob.UserId, PresenceStatus.Away, null), await log.NextOfAsync<PresenceChanged>());
        }

        // One device of two went: still away, not offline. The stranger coming online is nobody's business.
        await using (await Sdk.ConnectAsync(stranger))
        {
            await bob.DisposeAsync();
            var gone = await log.NextOfAsync<PresenceChanged>();
            Assert.Equal((crew.Bob.UserId, PresenceStatus.Offline), (gone.UserId, gone.Status));
            Assert.NotNull(gone.LastSeen);
        }

        await Task.Delay(200);
        Assert.DoesNotContain(log.Arrived(), e => e is PresenceChanged { UserId: var id } && id == stranger.UserId);
        var later = await alice.WatchPresenceAsync([crew.Bob.UserId]);
        Assert.NotEqual(0, Assert.Single(later).LastSeenUnixMs);
    }

    [Fact]
    public async Task Typing_ReachesTheOtherMembers_NotTheTypistsOwnDevices_AtMostEveryTwoSeconds()
    {
        var crew = await Crew.CreateAsync(Server);
        var bobPhone = await Server.LoginAsync(crew.Bob);
        var stranger = await Server.SignupAsync();
        await using var alice = await Sdk.ConnectAsync(crew.Alice);
        await using var bob = await Sdk.ConnectAsync(crew.Bob);
        await using var phone = await Sdk.ConnectAsync(bobPhone);
        await using var outsider = await Sdk.ConnectAsync(stranger);
        var aliceLog = new EventLog(alice);
        var phoneLog = new EventLog(phone);

        await bob.TypingAsync(crew.GeneralId);
        await bob.TypingAsync(crew.GeneralId);
        var refused = await Assert.ThrowsAsync<ChatWireException>(() => outsider.TypingAsync(crew.GeneralId));

        Assert.Equal(new TypingStarted(crew.GeneralId, crew.Bob.UserId), await aliceLog.NextOfAsync<TypingStarted>());
        Assert.Equal(ErrorCode.NotAMember, refused.Code);
        await Task.Delay(300);
        Assert.DoesNotContain(aliceLog.Arrived(), e => e is TypingStarted);
        Assert.DoesNotContain(phoneLog.Arrived(), e => e is TypingStarted);
    }

    [Fact]
    public async Task TeamPresence_OverHttpAndTheCli_ListsEveryMemberWithStatus()
    {
        var crew = await Crew.CreateAsync(Server, "Roster");
        await using var bob = await Sdk.ConnectAsync(crew.Bob);
        await bob.SetStatusAsync(PresenceStatus.DoNotDisturb);
        using var api = new ChatWireApiClient(Server.ApiBaseAddress) { SessionToken = crew.Alice.Token };

        var roster = await api.ListTeamPresenceAsync(crew.TeamId);
        var firstPage = await crew.Alice.CallAsync(HttpMethod.Get, $"v1/teams/{crew.TeamId}/presence?limit=1");
        using var cli = new CliHarness(Server);
        cli.LogIn(crew.Alice);
        var printed = await cli.RunAsync("presence", "Roster");

        Assert.Equal("dnd", roster.Single(m => m.UserId == crew.Bob.UserId).Status);
        Assert.Equal("offline", roster.Single(m => m.UserId == crew.Alice.UserId).Status);
        Assert.Single(firstPage.GetProperty("members").EnumerateArray());
        Assert.NotNull(firstPage.GetProperty("next_cursor").GetString());
        Assert.Equal(CliApp.ExitOk, printed.Exit);
        Assert.Equal($"{crew.Bob.Username}: dnd", printed.Lines[0]);
        Assert.StartsWith($"{crew.Alice.Username}: offline", printed.Lines[1], StringComparison.Ordinal);
    }
}
