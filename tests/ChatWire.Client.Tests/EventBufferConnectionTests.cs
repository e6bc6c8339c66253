using ChatWire.Client.Tests.Infrastructure;
using ChatWire.Storage.Messages;
using ChatWire.Testing;

namespace ChatWire.Client.Tests;

// The event buffer's bound (ChatWireConnectionOptions.EventBufferCapacity) on a real connection: an app that stops
// reading does not make the SDK hold everything that arrives, and loses nothing stored by it.
public sealed class EventBufferConnectionTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const int Capacity = 8;
    private const int Sent = 120;

    private TestServer Server => fixture.Server;

    [Fact]
    public async Task AppNotReading_TheBufferStaysNearItsCapacity_AndEveryMessageComesOutInOrderOnceItReads()
    {
        var crew = await Crew.CreateAsync(Server);
        await using var alice = await Sdk.ConnectAsync(crew.Alice);
        await using var bob = await ChatWireConnection.ConnectAsync(Sdk.Options(crew.Bob) with { EventBufferCapacity = Capacity }).WaitAsync(Patience.Default);

        var most = 0;
        ulong last = 0;
        for (var i = 0; i < Sent; i++)
        {
            last = (await alice.SendTextAsync(crew.GeneralId, $"message {i}")).Seq;
            most = Math.Max(most, bob.BufferedEventCount);
        }

        // Bob's link has been told of every message by now or soon; the buffer must not have grown with them.
        for (var i = 0; i < 20; i++)
        {
            await Task.Delay(25);
            most = Math.Max(most, bob.BufferedEventCount);
        }

        // The capacity, plus ConnectionStateChanged(Connected), which always goes in.
        Assert.InRange(most, Capacity, Capacity + 1);

        var seqs = new List<ulong>();
        using var timeout = new CancellationTokenSource(Patience.Default);
        await foreach (var item in bob.ReadEventsAsync(timeout.Token))
        {
            most = Math.Max(most, bob.BufferedEventCount + 1);
            if (item is MessageReceived { Message: var m } && m.ConversationId == crew.GeneralId)
            {
                seqs.Add(m.Seq);
                if (m.Seq == last)
                {
                    break;
                }
            }
        }

        Assert.Equal(Enumerable.Range((int)(last - Sent + 1), Sent).Select(seq => (ulong)seq), seqs);
        Assert.InRange(most, Capacity, Capacity + 1);
        Assert.Equal(last, bob.Watermarks[crew.GeneralId]);
    }

    // A device resuming far behind: the catch-up's fills cannot put everything in a small buffer before ConnectAsync
    // returns (and the app cannot read before it does), so they go on in the background as the app reads.
    [Fact]
    public async Task ConnectAsync_ResumingFarBehindWithASmallBuffer_Returns_AndTheAppGetsEverythingMissedInOrder()
    {
        var crew = await Crew.CreateAsync(Server);
        await using var alice = await Sdk.ConnectAsync(crew.Alice);
        var before = (await alice.SendTextAsync(crew.GeneralId, "before")).Seq;
        ulong last = 0;
        for (var i = 0; i < Sent; i++)
        {
            last = (await alice.SendTextAsync(crew.GeneralId, $"missed {i}")).Seq;
        }

        var options = Sdk.Options(crew.Bob) with { EventBufferCapacity = Capacity, ResumeWatermarks = new Dictionary<Guid, ulong> { [crew.GeneralId] = before } };
        await using var bob = await ChatWireConnection.ConnectAsync(options).WaitAsync(Patience.Default);
        Assert.InRange(bob.BufferedEventCount, 1, Capacity + 1);

        var seqs = new List<ulong>();
        using var timeout = new CancellationTokenSource(Patience.Default);
        await foreach (var item in bob.ReadEventsAsync(timeout.Token))
        {
            Assert.InRange(bob.BufferedEventCount, 0, Capacity + 1);
            if (item is MessageReceived { Message: var m })
            {
                seqs.Add(m.Seq);
                if (m.Seq == last)
                {
                    break;
                }
            }
        }

        Assert.Equal(Enumerable.Range((int)before + 1, Sent).Select(seq => (ulong)seq), seqs);
    }

    // Regression: a catch-up fill that the server refused for now (STORAGE_UNAVAILABLE) was tried again, still inside
    // the catch-up ConnectAsync awaits, as a fill that waits for room; with the buffer filled by live events during the
    // retry's delay, ConnectAsync never returned, and the app cannot read (make room) before it does.
    [Fact]
    public async Task ConnectAsync_ACatchUpFillRefusedOnce_WithTheBufferFullByTheRetry_StillReturns()
    {
        var refused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var armed = 0;
        var general = Guid.Empty;
        await using var server = await TestServer.StartAsync(replaceServices: services => MessageStoreProxy.Replace(services, (store, method, args) =>
        {
            if (method.Name == nameof(IMessageStore.ReadAsync) && (Guid)args[0]! == general && Interlocked.CompareExchange(ref armed, 0, 1) == 1)
            {
                refused.TrySetResult();
                return Task.FromException<IReadOnlyList<StoredEvent>>(new IOException("The store is down for a moment."));
            }

            return null;
        }));
        var crew = await Crew.CreateAsync(server);
        var dm = await crew.Alice.OpenDmAsync(crew.Bob.Username);
        await using var alice = await Sdk.ConnectAsync(crew.Alice);
        var before = (await alice.SendTextAsync(crew.GeneralId, "before")).Seq;
        ulong last = 0;
        for (var i = 0; i < 20; i++)
        {
            last = (await alice.SendTextAsync(crew.GeneralId, $"missed {i}")).Seq;
        }

        // A page of 200 fits beside ConnectionStateChanged(Connected), not beside anything more.
        var options = Sdk.Options(crew.Bob) with { EventBufferCapacity = 201, ResumeWatermarks = new Dictionary<Guid, ulong> { [crew.GeneralId] = before } };
        general = crew.GeneralId;
        Interlocked.Exchange(ref armed, 1);
        var connecting = ChatWireConnection.ConnectAsync(options);

        // The catch-up's first page of General is refused; before it is asked again (a second later), live messages
        // of another conversation take the room a page needs.
        await refused.Task.WaitAsync(Patience.Default);
        var dmLast = 0UL;
        for (var i = 0; i < 3; i++)
        {
            dmLast = (await alice.SendTextAsync(dm, $"live {i}")).Seq;
        }

        await using var bob = await connecting.WaitAsync(Patience.Default);

        var seqs = new List<ulong>();
        var dmSeen = false;
        using var timeout = new CancellationTokenSource(Patience.Default);
        await foreach (var item in bob.ReadEventsAsync(timeout.Token))
        {
            if (item is MessageReceived { Message: var m })
            {
                if (m.ConversationId == crew.GeneralId)
                {
                    seqs.Add(m.Seq);
                }

                dmSeen |= m.ConversationId == dm && m.Seq == dmLast;
                if (dmSeen && seqs.LastOrDefault() == last)
                {
                    break;
                }
            }
        }

        Assert.Equal(Enumerable.Range((int)before + 1, 20).Select(seq => (ulong)seq), seqs);
    }
}
