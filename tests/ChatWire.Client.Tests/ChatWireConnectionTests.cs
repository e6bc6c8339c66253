using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// The SDK's connection against the real gateway in process, over real loopback sockets. Tests that need
// their own configuration (heartbeat, restarts) start a server of their own.
public sealed class ChatWireConnectionTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private TestServer Server => fixture.Server;

    [Fact]
    public async Task ConnectAsync_Handshake_AuthenticatesAndExposesIdentityAndLimits()
    {
        var user = await Server.SignupAsync();

        await using var connection = await Sdk.ConnectAsync(user);
        var events = new EventLog(connection);
        var first = await events.NextAsync<ConnectionStateChanged>();
        await connection.PingAsync().WaitAsync(Patience.Default);

        Assert.Equal(user.UserId, connection.UserId);
        Assert.Equal(user.DeviceId, connection.DeviceId);
        Assert.Equal(ConnectionState.Connected, connection.State);
        Assert.Equal((ConnectionState.Connected, null), (first.State, first.Error));
        Assert.Equal(ProtocolLimits.DefaultMaxContentLength, connection.Limits.MaxContentLength);
        Assert.Equal(TimeSpan.FromMilliseconds(30_000), connection.HeartbeatInterval);
        Assert.Null(connection.CloseCode);
    }

    [Fact]
    public async Task ConnectAsync_PlainTcpOffLoopback_RefusedUnlessAllowed_AndServerInfoPrefersTlsOffLoopback()
    {
        var options = new ChatWireConnectionOptions { Host = "192.0.2.10", Port = 7400, SessionToken = "t", DeviceId = Guid.CreateVersion7(), ConnectTimeout = TimeSpan.FromMilliseconds(200) };

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => ChatWireConnection.ConnectAsync(options with { Reconnect = ReconnectPolicy.Disabled }));
        var allowed = await Record.ExceptionAsync(() => ChatWireConnection.ConnectAsync(options with { AllowPlaintext = true, Reconnect = ReconnectPolicy.Disabled }));

        Assert.Contains("Refusing plain TCP to 192.0.2.10", refused.Message, StringComparison.Ordinal);
        Assert.IsNotType<InvalidOperationException>(allowed);

        var both = new ServerInfo("chatwire", "0.1.0", [1], new ServerEndpoints(new ServerEndpoint("chat.example.com", 7400), new ServerEndpoint("chat.example.com", 7443), null), null, null!);
        var local = both with { Endpoints = new ServerEndpoints(new ServerEndpoint("localhost", 7400), new ServerEndpoint("localhost", 7443), null) };
        Assert.True(ChatWireConnectionOptions.FromServerInfo(both, "t", Guid.CreateVersion7()).UseTls);
        Assert.False(ChatWireConnectionOptions.FromServerInfo(local, "t", Guid.CreateVersion7()).UseTls);
    }

    [Fact]
    public async Task ConnectAsync_TokenOfAnotherDevice_ThrowsInvalidToken()
    {
        var user = await Server.SignupAsync();
        var options = Sdk.Options(user) with { DeviceId = Guid.CreateVersion7() };

        var ex = await Assert.ThrowsAsync<ChatWireException>(() => ChatWireConnection.ConnectAsync(options).WaitAsync(Patience.Default));

        Assert.Equal(ErrorCode.InvalidToken, ex.Code);
        Assert.Equal("INVALID_TOKEN", ex.Name);
        Assert.Null(ex.HttpStatus);
    }

    [Fact]
    public async Task ConnectAsync_RevokedSession_ThrowsSessionRevoked()
    {
        var user = await Server.SignupAsync();
        await user.CallAsync(HttpMethod.Post, "v1/accounts/logout");

        var ex = await Assert.ThrowsAsync<ChatWireException>(() => Sdk.ConnectAsync(user));

        Assert.Equal(ErrorCode.SessionRevoked, ex.Code);
        Assert.True(ex.IsTerminal);
    }

    [Fact]
    public async Task SendTextAsync_Acked_ReturnsSeqAndGeneratesUuidV7_MessageIsStored()
    {
        var crew = await Crew.CreateAsync(Server);
        await using var connection = await Sdk.ConnectAsync(crew.Alice);

        var result = await connection.SendTextAsync(crew.GeneralId, "hello").WaitAsync(Patience.Default);
        var page = await connection.GetHistoryAsync(crew.GeneralId, 0, HistoryDirection.After).WaitAsync(Patience.Default);

        Assert.Equal(7, result.MessageId.Version);
        Assert.Equal(Crew.FirstMessageSeq, result.Seq);
        var stored = Assert.Single(Sdk.Messages(page));
        Assert.Equal((result.MessageId, Crew.FirstMessageSeq, "text/plain", "hello"), (stored.EventId, stored.Seq, stored.ContentType, Sdk.Text(stored)));
        Assert.Equal((crew.Alice.UserId, crew.Alice.DeviceId), (stored.SenderUserId, stored.SenderDeviceId));
        Assert.Equal(result.ServerTime, DateTimeOffset.FromUnixTimeMilliseconds(stored.ServerTimeUnixMs));
    }

    [Fact]
    public async Task SendAsync_SameMessageIdAgain_ReturnsTheOriginalSeq_StoresOnce()
    {
        var crew = await Crew.CreateAsync(Server);
        await using var connection = await Sdk.ConnectAsync(crew.Alice);
        var id = Guid.CreateVersion7();

        var first = await connection.SendTextAsync(crew.GeneralId, "once", id).WaitAsync(Patience.Default);
        var other = await connection.SendTextAsync(crew.GeneralId, "another").WaitAsync(Patience.Default);
        var resent = await connection.SendTextAsync(crew.GeneralId, "once", id).WaitAsync(Patience.Default);
        var conflict = await Assert.ThrowsAsync<ChatWireException>(() => connection.SendTextAsync(crew.GeneralId, "a different body", id).WaitAsync(Patience.Default));
        var page = await connection.GetHistoryAsync(crew.GeneralId, 0, HistoryDirection.After).WaitAsync(Patience.Default);

        Assert.Equal((id, Crew.FirstMessageSeq), (first.MessageId, first.Seq));
        Assert.Equal(Crew.FirstMessageSeq + 1, other.Seq);
        Assert.Equal(first, resent);
        Assert.Equal(ErrorCode.IdempotencyConflict, conflict.Code);
        Assert.Equal(["once", "another"], Sdk.Messages(page).Select(Sdk.Text));
        Assert.Equal(ConnectionState.Connected, connection.State);
    }

    [Fact]
    public async Task SendAsync_RateLimited_WaitsTheServersDelayAndSendsAgain_OrThrowsWithRetryAfter()
    {
        // Two SENDs at once, then one every four seconds, per device: the impatient device's third SEND comes well inside
        // those four seconds even when the machine is busy and each SEND waits for its commit (at 5 a second, two slow
        // commits once let a token come back before it).
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:SendMessagesPerSecondPerDevice"] = "0.25",
            ["Limits:SendMessageBurstPerDevice"] = "2",
        });
        var crew = await Crew.CreateAsync(server);
        await using var patient = await Sdk.ConnectAsync(crew.Alice);
        await using var impatient = await ChatWireConnection.ConnectAsync(Sdk.Options(crew.Bob) with { MaxRateLimitWait = TimeSpan.Zero }).WaitAsync(Patience.Default);

        // Four in a row: the last two each wait out a RATE_LIMITED, and all four are stored once, in order.
        var seqs = new List<ulong>();
        for (var i = 0; i < 4; i++)
        {
            seqs.Add((await patient.SendTextAsync(crew.GeneralId, $"m{i}").WaitAsync(Patience.Default)).Seq);
        }

        await impatient.SendTextAsync(crew.GeneralId, "b0").WaitAsync(Patience.Default);
        await impatient.SendTextAsync(crew.GeneralId, "b1").WaitAsync(Patience.Default);
        var refused = await Assert.ThrowsAsync<ChatWireException>(() => impatient.SendTextAsync(crew.GeneralId, "b2").WaitAsync(Patience.Default));

        Assert.Equal(ErrorCode.RateLimited, refused.Code);
        Assert.InRange(refused.RetryAfter!.Value, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(4000));
        Assert.Equal(Enumerable.Range(0, 4).Select(i => Crew.FirstMessageSeq + (ulong)i), seqs);
        var page = await patient.GetHistoryAsync(crew.GeneralId, 0, HistoryDirection.After).WaitAsync(Patience.Default);
        Assert.Equal(["m0", "m1", "m2", "m3", "b0", "b1"], Sdk.Messages(page).Select(Sdk.Text));
        Assert.Equal(ConnectionState.Connected, impatient.State);
    }

    [Fact]
    public async Task StatusAndPresenceWatch_RateLimited_AreWaitedOutLikeSends_OrThrowWithRetryAfter()
    {
        // SET_STATUS and PRESENCE_WATCH count in the same per-device rate as SEND: two at once, then one every two
        // seconds (room for two slow answers before the third request).
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Limits:SendMessagesPerSecondPerDevice"] = "0.5",
            ["Limits:SendMessageBurstPerDevice"] = "2",
        });
        var crew = await Crew.CreateAsync(server);
        await using var patient = await Sdk.ConnectAsync(crew.Alice);
        await using var impatient = await ChatWireConnection.ConnectAsync(Sdk.Options(crew.Bob) with { MaxRateLimitWait = TimeSpan.Zero }).WaitAsync(Patience.Default);

        await patient.SetStatusAsync(PresenceStatus.Away).WaitAsync(Patience.Default);
        await patient.SetStatusAsync(PresenceStatus.DoNotDisturb).WaitAsync(Patience.Default);
        await patient.SetStatusAsync(PresenceStatus.Online).WaitAsync(Patience.Default);
        var watched = await patient.WatchPresenceAsync([crew.Bob.UserId]).WaitAsync(Patience.Default);
        await impatient.SetStatusAsync(PresenceStatus.Away).WaitAsync(Patience.Default);
        await impatient.SetStatusAsync(PresenceStatus.Online).WaitAsync(Patience.Default);
        var refused = await Assert.ThrowsAsync<ChatWireException>(() => impatient.WatchPresenceAsync([crew.Alice.UserId]).WaitAsync(Patience.Default));

        Assert.Equal(crew.Bob.UserId, Assert.Single(watched).UserId);
        Assert.Equal(ErrorCode.RateLimited, refused.Code);
        Assert.InRange(refused.RetryAfter!.Value, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(2000));
        Assert.Equal(ConnectionState.Connected, impatient.State);
    }

    [Fact]
    public async Task SendAsync_NotAMember_FailsThatRequestOnly()
    {
        var crew = await Crew.CreateAsync(Server);
        var stranger = await Server.SignupAsync();
        var (_, strangersGeneral) = await stranger.CreateTeamAsync("Elsewhere");
        await using var connection = await Sdk.ConnectAsync(crew.Alice);

        var ex = await Assert.ThrowsAsync<ChatWireException>(() => connection.SendTextAsync(strangersGeneral, "nope").WaitAsync(Patience.Default));
        var givenId = Guid.CreateVersion7();
        var accepted = await connection.SendTextAsync(crew.GeneralId, "yes", givenId).WaitAsync(Patience.Default);

        Assert.Equal(ErrorCode.NotAMember, ex.Code);
        Assert.Equal("NOT_A_MEMBER", ex.Name);
        Assert.Null(ex.HttpStatus);
        Assert.Equal(givenId, accepted.MessageId);
        Assert.Equal(ConnectionState.Connected, connection.State);
    }

    [Fact]
    public async Task SendAsync_ContentOverTheLimit_FailsWithoutSending()
    {
        var crew = await Crew.CreateAsync(Server);
        await using var connection = await Sdk.ConnectAsync(crew.Alice);

        var ex = await Assert.ThrowsAsync<ChatWireException>(() => connection.SendAsync(crew.GeneralId, new byte[connection.Limits.MaxContentLength + 1]));
        var page = await connection.GetHistoryAsync(crew.GeneralId, 0, HistoryDirection.After).WaitAsync(Patience.Default);

        Assert.Equal(ErrorCode.ContentTooLarge, ex.Code);
        Assert.Empty(Sdk.Messages(page));
        Assert.Equal(ConnectionState.Connected, connection.State);
    }

    [Fact]
    public async Task Events_MessageSentOnAnotherConnection_IsDeliveredOnceInOrder()
    {
        var crew = await Crew.CreateAsync(Server);
        await using var listener = await Sdk.ConnectAsync(crew.Bob);
        var events = new EventLog(listener);
        Assert.Equal(ConnectionState.Connected, (await events.NextAsync<ConnectionStateChanged>()).State);
        await using var sender = await Sdk.ConnectAsync(crew.Alice);

        var sent = new List<SendResult>();
        foreach (var text in new[] { "one", "two", "three" })
        {
            sent.Add(await sender.SendTextAsync(crew.GeneralId, text).WaitAsync(Patience.Default));
        }

        var received = new List<ConversationEvent>();
        for (var i = 0; i < 3; i++)
        {
            received.Add(await events.NextMessageAsync());
        }

        Assert.Equal(sent.Select(result => (result.MessageId, result.Seq)), received.Select(message => (message.EventId, message.Seq)));
        Assert.Equal(["one", "two", "three"], received.Select(Sdk.Text));
        Assert.All(received, message => Assert.Equal((crew.GeneralId, crew.Alice.UserId, crew.Alice.DeviceId), (message.ConversationId, message.SenderUserId, message.SenderDeviceId)));
    }

    [Fact]
    public async Task GetHistoryAsync_PagesBeforeAndAfter_OldestFirst()
    {
        var crew = await Crew.CreateAsync(Server);
        await using var connection = await Sdk.ConnectAsync(crew.Alice);
        for (var i = 1; i <= 10; i++)
        {
            await connection.SendTextAsync(crew.GeneralId, $"m{i}").WaitAsync(Patience.Default);
        }

        // m1..m10 are seqs 3..12, after the channel's two MEMBER_JOINED events.
        var newest = await connection.GetHistoryAsync(crew.GeneralId, 0, HistoryDirection.Before, 2).WaitAsync(Patience.Default);
        var older = await connection.GetHistoryAsync(crew.GeneralId, 11, HistoryDirection.Before, 3).WaitAsync(Patience.Default);
        var after = await connection.GetHistoryAsync(crew.GeneralId, 10, HistoryDirection.After, 5).WaitAsync(Patience.Default);

        Assert.Equal([11UL, 12], newest.Events.Select(message => message.Seq));
        Assert.True(newest.HasMore);
        Assert.Equal([8UL, 9, 10], older.Events.Select(message => message.Seq));
        Assert.Equal(["m6", "m7", "m8"], older.Events.Select(Sdk.Text));
        Assert.Equal([11UL, 12], after.Events.Select(message => message.Seq));
        Assert.False(after.HasMore);
        Assert.Equal(crew.GeneralId, after.ConversationId);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => connection.GetHistoryAsync(crew.GeneralId, 0, HistoryDirection.Before, connection.Limits.MaxHistoryLimit + 1));
    }

    [Fact]
    public async Task ServerPing_IsAnswered_ConnectionOutlivesSeveralHeartbeatIntervals()
    {
        // The client never pings on its own here, so only its PONGs keep the server's heartbeat timeout (two
        // silent intervals) away. A 2 s interval leaves a PONG most of two seconds to arrive while the rest of
        // the suite loads both cores (at 1 s it was once answered too late).
        await using var server = await TestServer.StartAsync(new Dictionary<string, string?> { ["Gateway:HeartbeatIntervalMs"] = "2000" });
        var user = await server.SignupAsync();
        var (_, generalId) = await user.CreateTeamAsync();
        await using var connection = await Sdk.ConnectAsync(user, ReconnectPolicy.Disabled, Timeout.InfiniteTimeSpan);

        var pongs = await server.WaitForMetricAsync("chatwire_frames_received_total", "opcode=\"PONG\"", count => count >= 3, Patience.Default * 3);
        var sent = await connection.SendTextAsync(generalId, "still here").WaitAsync(Patience.Default);

        Assert.True(await server.ReadMetricAsync("chatwire_frames_sent_total", "opcode=\"PING\"") >= pongs);
        Assert.Equal(0, await server.ReadMetricAsync("chatwire_errors_total", "name=\"HEARTBEAT_TIMEOUT\""));
        Assert.Equal(ConnectionState.Connected, connection.State);

        // After the general channel's one MEMBER_JOINED.
        Assert.Equal(2UL, sent.Seq);
    }

    [Fact]
    public async Task Heartbeat_AfterSilence_ClientSendsPing_ServerAnswers()
    {
        var user = await Server.SignupAsync();
        var before = await Server.ReadMetricAsync("chatwire_frames_received_total", "opcode=\"PING\"");

        await using var connection = await Sdk.ConnectAsync(user, heartbeat: TimeSpan.FromMilliseconds(200));
        await Server.WaitForMetricAsync("chatwire_frames_received_total", "opcode=\"PING\"", count => count >= before + 2);

        Assert.Equal(TimeSpan.FromMilliseconds(200), connection.HeartbeatInterval);
    }

    [Fact]
    public async Task SessionRevoked_IsTerminal_StreamEndsWithChatWireException_NoReconnect()
    {
        var crew = await Crew.CreateAsync(Server);
        await using var connection = await Sdk.ConnectAsync(crew.Alice);
        var events = new List<ChatWireEvent>();
        var draining = Sdk.DrainAsync(connection, events);
        var hellos = await Server.ReadMetricAsync("chatwire_frames_received_total", "opcode=\"HELLO\"");

        await crew.Alice.CallAsync(HttpMethod.Delete, $"v1/sessions/{crew.Alice.DeviceId}");
        var ex = await Assert.ThrowsAsync<ChatWireException>(() => draining);

        Assert.Equal(ErrorCode.SessionRevoked, ex.Code);
        Assert.Equal(ErrorCode.SessionRevoked, connection.CloseCode);
        Assert.Equal(ConnectionState.Closed, connection.State);
        Assert.Equal(
            [ConnectionState.Connected, ConnectionState.Closed],
            events.OfType<ConnectionStateChanged>().Select(change => change.State));
        var afterClose = await Assert.ThrowsAsync<ChatWireException>(() => connection.SendTextAsync(crew.GeneralId, "x"));
        Assert.Equal(ErrorCode.SessionRevoked, afterClose.Code);

        // A reconnect would say HELLO again within the reconnect policy's few milliseconds; give it ample time.
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        Assert.Equal(hellos, await Server.ReadMetricAsync("chatwire_frames_received_total", "opcode=\"HELLO\""));
    }

    [Fact]
    public async Task ServerShutsDown_WithoutReconnect_StreamEndsWithShuttingDown()
    {
        var server = await TestServer.StartAsync();
        ChatWireConnection connection;
        Guid generalId;
        try
        {
            var user = await server.SignupAsync();
            (_, generalId) = await user.CreateTeamAsync();
            connection = await Sdk.ConnectAsync(user, ReconnectPolicy.Disabled);
        }
        finally
        {
            await server.DisposeAsync();
        }

        await using (connection)
        {
            var ex = await Assert.ThrowsAsync<ChatWireException>(() => Sdk.DrainAsync(connection));

            Assert.Equal(ErrorCode.ShuttingDown, ex.Code);
            Assert.Equal(ErrorCode.ShuttingDown, connection.CloseCode);
            Assert.Equal(ConnectionState.Closed, connection.State);
            Assert.Equal(ErrorCode.ShuttingDown, (await Assert.ThrowsAsync<ChatWireException>(() => connection.SendTextAsync(generalId, "x"))).Code);
        }
    }

    [Fact]
    public async Task Reconnect_ReadAndLeftOnAnotherDeviceWhileAway_AnnouncedAsReadStateChangedThenConversationLeft()
    {
        var dataDirectory = TestServer.NewDataDirectory();
        var ports = TestServer.FixedPortOverrides();
        ChatWireConnection? listener = null;
        TestServer? third = null;
        try
        {
            Crew crew;
            EventLog events;
            SendResult sent;
            Guid random;
            await using (var first = await TestServer.StartAsync(ports, dataDirectory))
            {
                crew = await Crew.CreateAsync(first);
                random = (await crew.Alice.CallAsync(HttpMethod.Post, $"v1/teams/{crew.TeamId}/channels", new { name = "random" })).GetProperty("conversation_id").GetGuid();
                await crew.Bob.CallAsync(HttpMethod.Post, $"v1/channels/{random}/join");
                listener = await Sdk.ConnectAsync(crew.Bob, Sdk.RestartReconnect);
                events = new EventLog(listener);
                await using var sender = await Sdk.ConnectAsync(crew.Alice, ReconnectPolicy.Disabled);
                sent = await sender.SendTextAsync(crew.GeneralId, "read elsewhere").WaitAsync(Patience.Default);
                Assert.Equal(sent.Seq, (await events.NextOfAsync<MessageReceived>()).Message.Seq);
            }

            Assert.Equal(ConnectionState.Reconnecting, (await events.NextStateAsync()).State);

            Assert.Contains(random, listener.Watermarks.Keys);

            // On another device, while the listener cannot get in (the TCP listener is elsewhere), Bob reads the
            // message and leaves #random: neither reaches the listener as it happens.
            var elsewhere = new Dictionary<string, string?>(ports) { ["Gateway:TcpEndpoint"] = "127.0.0.1:0" };
            await using (var second = await TestServer.StartAsync(elsewhere, dataDirectory))
            {
                var phone = await second.LoginAsync(crew.Bob, "phone");
                await using var otherDevice = await Sdk.ConnectAsync(phone, ReconnectPolicy.Disabled, port: second.TcpEndPoint.Port);
                await otherDevice.MarkReadAsync(crew.GeneralId).WaitAsync(Patience.Default);
                await phone.CallAsync(HttpMethod.Post, $"v1/channels/{random}/leave");
            }

            third = await TestServer.StartAsync(ports, dataDirectory);
            var announced = await events.NextOfAsync<ReadStateChanged>();
            var left = await events.NextOfAsync<ConversationLeft>();

            Assert.Equal((crew.GeneralId, sent.Seq, 0, 0), (announced.ConversationId, announced.ReadSeq, announced.UnreadCount, announced.MentionCount));
            Assert.Equal(random, left.ConversationId);
            Assert.DoesNotContain(random, listener.Watermarks.Keys);
            Assert.Contains(crew.GeneralId, listener.Watermarks.Keys);
        }
        finally
        {
            if (listener is not null)
            {
                await listener.DisposeAsync();
            }

            if (third is not null)
            {
                await third.DisposeAsync();
            }

            TestServer.DeleteDirectory(dataDirectory);
        }
    }

    [Fact]
    public async Task Reconnect_AfterServerRestart_EmitsMissedMessagesInSeqOrderThenLiveOnes_NoDuplicates()
    {
        var dataDirectory = TestServer.NewDataDirectory();
        var ports = TestServer.FixedPortOverrides();
        ChatWireConnection? listener = null;
        TestServer? third = null;
        try
        {
            Crew crew;
            EventLog events;
            await using (var first = await TestServer.StartAsync(ports, dataDirectory))
            {
                crew = await Crew.CreateAsync(first);
                listener = await Sdk.ConnectAsync(crew.Bob, Sdk.RestartReconnect);
                events = new EventLog(listener);
                Assert.Equal(ConnectionState.Connected, (await events.NextAsync<ConnectionStateChanged>()).State);
                await using var sender = await Sdk.ConnectAsync(crew.Alice, ReconnectPolicy.Disabled);
                await sender.SendTextAsync(crew.GeneralId, "m1").WaitAsync(Patience.Default);
                Assert.Equal("m1", Sdk.Text(await events.NextMessageAsync()));
            }

            var dropped = await events.NextAsync<ConnectionStateChanged>();
            Assert.Equal(ConnectionState.Reconnecting, dropped.State);
            Assert.Equal(ErrorCode.ShuttingDown, Assert.IsType<ChatWireException>(dropped.Error).Code);

            // Same data, but the plain TCP listener on another port: the listener cannot get back in while these
            // are sent, so they can reach it only by its catch-up.
            var elsewhere = new Dictionary<string, string?>(ports) { ["Gateway:TcpEndpoint"] = "127.0.0.1:0" };
            await using (var second = await TestServer.StartAsync(elsewhere, dataDirectory))
            {
                await using var sender = await Sdk.ConnectAsync(crew.Alice, ReconnectPolicy.Disabled, port: second.TcpEndPoint.Port);
                foreach (var text in new[] { "m2", "m3", "m4" })
                {
                    await sender.SendTextAsync(crew.GeneralId, text).WaitAsync(Patience.Default);
                }
            }

            Assert.Equal(ConnectionState.Reconnecting, listener.State);
            third = await TestServer.StartAsync(ports, dataDirectory);

            // Back on the original ports: the listener reconnects on its own; then two more are sent live.
            await third.WaitForMetricAsync("chatwire_connections", "state=\"authenticated\"", count => count >= 1);
            await using (var sender = await Sdk.ConnectAsync(crew.Alice, ReconnectPolicy.Disabled, port: third.TcpEndPoint.Port))
            {
                await sender.SendTextAsync(crew.GeneralId, "m5").WaitAsync(Patience.Default);
                await sender.SendTextAsync(crew.GeneralId, "m6").WaitAsync(Patience.Default);
            }

            var received = new List<ConversationEvent>();
            for (var i = 0; i < 5; i++)
            {
                received.Add(await events.NextMessageSkippingStatesAsync());
            }

            Assert.Equal([4UL, 5, 6, 7, 8], received.Select(message => message.Seq));
            Assert.Equal(["m2", "m3", "m4", "m5", "m6"], received.Select(Sdk.Text));
            Assert.True(await third.ReadMetricAsync("chatwire_frames_received_total", "opcode=\"HISTORY\"") >= 1);
            Assert.Equal(ConnectionState.Connected, listener.State);
        }
        finally
        {
            // Clients first: a server stopped under a reconnecting client is the gateway bug the skipped test shows.
            if (listener is not null)
            {
                await listener.DisposeAsync();
            }

            if (third is not null)
            {
                await third.DisposeAsync();
            }

            TestServer.DeleteDirectory(dataDirectory);
        }
    }

    // Regression: after a reconnect the SDK caught up only conversations it had received something in
    // during this run, so a message into a quiet conversation, or into one created while it was away, was
    // never shown.
    [Fact]
    public async Task Reconnect_QuietAndNewConversations_MissedEventsShownOnceInOrder()
    {
        var dataDirectory = TestServer.NewDataDirectory();
        var ports = TestServer.FixedPortOverrides();
        ChatWireConnection? listener = null;
        TestServer? third = null;
        try
        {
            Crew crew;
            TestUser carol;
            Guid quietDm;
            EventLog events;
            await using (var first = await TestServer.StartAsync(ports, dataDirectory))
            {
                crew = await Crew.CreateAsync(first);
                carol = await first.SignupAsync();
                await carol.JoinAsync(await crew.Alice.InviteAsync(crew.TeamId));
                quietDm = await crew.Alice.OpenDmAsync(crew.Bob.Username);
                listener = await Sdk.ConnectAsync(crew.Bob, Sdk.RestartReconnect);
                events = new EventLog(listener);
                Assert.Equal(ConnectionState.Connected, (await events.NextAsync<ConnectionStateChanged>()).State);
            }

            Assert.Equal(ConnectionState.Reconnecting, (await events.NextStateAsync()).State);

            // While the listener is away (the TCP listener is elsewhere, so it cannot get back in): a message into
            // the DM it has never received anything in, and a group created with it and written to.
            Guid group;
            var elsewhere = new Dictionary<string, string?>(ports) { ["Gateway:TcpEndpoint"] = "127.0.0.1:0" };
            await using (var second = await TestServer.StartAsync(elsewhere, dataDirectory))
            {
                var alice = crew.Alice with { Server = second };
                group = await alice.OpenDmAsync(crew.Bob.Username, carol.Username);
                await using var sender = await Sdk.ConnectAsync(alice, ReconnectPolicy.Disabled, port: second.TcpEndPoint.Port);
                await sender.SendTextAsync(quietDm, "while you were away").WaitAsync(Patience.Default);
                await sender.SendTextAsync(group, "new group").WaitAsync(Patience.Default);
            }

            third = await TestServer.StartAsync(ports, dataDirectory);
            var seen = new List<ChatWireEvent>();
            while (seen.OfType<MessageReceived>().Count() < 2)
            {
                var item = await events.NextAnyAsync();
                if (item is not ConnectionStateChanged)
                {
                    seen.Add(item);
                }
            }

            // One more message proves nothing is still coming twice: it is the next event.
            await using (var sender = await Sdk.ConnectAsync(crew.Alice with { Server = third }, ReconnectPolicy.Disabled))
            {
                await sender.SendTextAsync(quietDm, "live again").WaitAsync(Patience.Default);
            }

            Assert.Equal("live again", Sdk.Text(await events.NextMessageSkippingStatesAsync()));
            var quiet = seen.OfType<MessageReceived>().Single(m => m.Message.ConversationId == quietDm).Message;
            Assert.Equal(("while you were away", 3UL), (Sdk.Text(quiet), quiet.Seq));
            var inGroup = seen.Where(e => e is MessageReceived { Message.ConversationId: var c } && c == group || e is MembershipChanged { ConversationId: var g } && g == group).ToList();
            Assert.Equal([1UL, 2UL, 3UL, 4UL], inGroup.Select(e => e is MessageReceived m ? m.Message.Seq : ((MembershipChanged)e).Event.Seq));
            Assert.Equal(
                new[] { crew.Alice.UserId, crew.Bob.UserId, carol.UserId }.Order(),
                inGroup.OfType<MembershipChanged>().Select(m => m.UserId).Order());
            Assert.Equal("new group", Sdk.Text(((MessageReceived)inGroup[^1]).Message));
        }
        finally
        {
            if (listener is not null)
            {
                await listener.DisposeAsync();
            }

            if (third is not null)
            {
                await third.DisposeAsync();
            }

            TestServer.DeleteDirectory(dataDirectory);
        }
    }

    [Fact]
    public async Task Reconnect_RequestMadeWhileReconnecting_WaitsForTheNextLink()
    {
        var dataDirectory = TestServer.NewDataDirectory();
        var ports = TestServer.FixedPortOverrides();
        ChatWireConnection? connection = null;
        TestServer? second = null;
        try
        {
            Crew crew;
            EventLog events;
            await using (var first = await TestServer.StartAsync(ports, dataDirectory))
            {
                crew = await Crew.CreateAsync(first);
                connection = await Sdk.ConnectAsync(crew.Alice, Sdk.RestartReconnect);
                events = new EventLog(connection);
                Assert.Equal(ConnectionState.Connected, (await events.NextAsync<ConnectionStateChanged>()).State);
            }

            Assert.Equal(ConnectionState.Reconnecting, (await events.NextAsync<ConnectionStateChanged>()).State);
            var sending = connection.SendTextAsync(crew.GeneralId, "after");

            second = await TestServer.StartAsync(ports, dataDirectory);
            var sent = await sending.WaitAsync(Patience.Default);
            var page = await connection.GetHistoryAsync(crew.GeneralId, 0, HistoryDirection.After).WaitAsync(Patience.Default);

            Assert.Equal(Crew.FirstMessageSeq, sent.Seq);
            Assert.Equal(sent.MessageId, Assert.Single(Sdk.Messages(page)).EventId);
            Assert.Equal(ConnectionState.Connected, connection.State);
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }

            if (second is not null)
            {
                await second.DisposeAsync();
            }

            TestServer.DeleteDirectory(dataDirectory);
        }
    }

    // Regression test (fixed in FrameLink.DisposeAsync): when a link ends while SEND frames are still buffered in its PipeWriter (the flush was
    // cancelled by the close), FrameLink.DisposeAsync rethrows from PipeWriter.CompleteAsync (IOException over
    // ObjectDisposedException: it flushes into the socket it just disposed). In SuperviseAsync that exception kills
    // the supervisor: no Reconnecting event, no reconnect, no Closed, State stays Connected and the event stream
    // never ends. Five rounds, because the buffered-at-close window is hit in roughly six rounds of ten.
    [Fact]
    public async Task Drop_WithSendsStillBuffered_StillReconnects()
    {
        for (var round = 0; round < 5; round++)
        {
            ChatWireConnection connection;
            EventLog events;
            List<Task<SendResult>> sends;
            await using (var server = await TestServer.StartAsync())
            {
                var user = await server.SignupAsync();
                var (_, generalId) = await user.CreateTeamAsync();
                connection = await Sdk.ConnectAsync(user, Sdk.RestartReconnect);
                events = new EventLog(connection);
                Assert.Equal(ConnectionState.Connected, (await events.NextAsync<ConnectionStateChanged>()).State);
                var content = new byte[connection.Limits.MaxContentLength];
                sends = Enumerable.Range(0, 100).Select(_ => connection.SendAsync(generalId, content)).ToList();
                await Task.Delay(20);
            }

            try
            {
                var dropped = await events.NextStateAsync();

                Assert.Equal(ConnectionState.Reconnecting, dropped.State);
                await Task.WhenAll(sends.Select(send => send.ContinueWith(_ => { }, TaskScheduler.Default))).WaitAsync(Patience.Default);
            }
            finally
            {
                try
                {
                    await connection.DisposeAsync();
                }
                catch (IOException)
                {
                    // DisposeAsync's own throw is the next test's bug; keep this test's failure in view.
                }
            }
        }
    }

    // Regression test (fixed in FrameLink.DisposeAsync): the same buffered-at-close state makes ChatWireConnection.DisposeAsync itself throw
    // IOException ("Unable to write data to the transport connection: Cannot access a disposed object").
    // Hit in about nine rounds of ten; five rounds.
    [Fact]
    public async Task DisposeAsync_WithSendsInFlight_DoesNotThrow_AndTheSendsEnd()
    {
        var crew = await Crew.CreateAsync(Server);
        for (var round = 0; round < 5; round++)
        {
            var connection = await Sdk.ConnectAsync(crew.Alice, ReconnectPolicy.Disabled);
            var content = new byte[connection.Limits.MaxContentLength];
            var sends = Enumerable.Range(0, 100).Select(_ => connection.SendAsync(crew.GeneralId, content)).ToList();
            await Task.Delay(20);

            await connection.DisposeAsync();

            await Task.WhenAll(sends.Select(send => send.ContinueWith(_ => { }, TaskScheduler.Default))).WaitAsync(Patience.Default);
            Assert.Equal(ConnectionState.Closed, connection.State);
        }
    }

    // Regression test (fixed: the registry refuses connections once the host is stopping): on shutdown the gateway closes the sessions it has (SHUTTING_DOWN) in
    // ApplicationStopping, but its listeners still accept until Kestrel stops; a client that reconnects within
    // those few milliseconds is accepted and authenticated by the stopping server, is never told to go, and
    // StopAsync then waits for the whole host shutdown timeout (30 s) before resetting it. Ten clients that
    // reconnect at once, six rounds: the window is hit in about one round of three.
    [Fact]
    public async Task ServerShutdown_ClientsReconnectingAtOnce_AreNotTakenInByTheStoppingServer()
    {
        var immediate = new ReconnectPolicy { BaseDelay = TimeSpan.Zero, MaxDelay = TimeSpan.FromMilliseconds(2) };
        for (var round = 0; round < 6; round++)
        {
            var server = await TestServer.StartAsync();
            var user = await server.SignupAsync();
            var connections = new List<ChatWireConnection>();
            var events = new List<EventLog>();
            try
            {
                for (var i = 0; i < 10; i++)
                {
                    connections.Add(await Sdk.ConnectAsync(user, immediate));
                    events.Add(new EventLog(connections[^1]));
                    Assert.Equal(ConnectionState.Connected, (await events[^1].NextAsync<ConnectionStateChanged>()).State);
                }

                await server.DisposeAsync().AsTask().WaitAsync(Patience.Default);

                foreach (var stream in events)
                {
                    Assert.Equal(ConnectionState.Reconnecting, (await stream.NextAsync<ConnectionStateChanged>()).State);
                }

                Assert.All(connections, connection => Assert.Equal(ConnectionState.Reconnecting, connection.State));
            }
            finally
            {
                foreach (var connection in connections)
                {
                    await connection.DisposeAsync();
                }
            }
        }
    }

    [Fact]
    public async Task DisposeAsync_EndsTheEventStreamNormally_AndTheServerSeesTheClose()
    {
        var user = await Server.SignupAsync();
        var connection = await Sdk.ConnectAsync(user);
        var events = new List<ChatWireEvent>();
        var draining = Sdk.DrainAsync(connection, events);

        await connection.DisposeAsync();
        await draining.WaitAsync(Patience.Default);

        Assert.Equal(ConnectionState.Closed, connection.State);
        Assert.Equal((ConnectionState.Closed, null), events.OfType<ConnectionStateChanged>().Select(change => (change.State, change.Error)).Last());
        await Server.WaitForMetricAsync("chatwire_connections", "state=\"authenticated\"", count => count == 0);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => connection.SendTextAsync(Guid.CreateVersion7(), "x"));
    }
}
