using System.Buffers;
using System.Diagnostics;
using System.Net;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;

namespace ChatWire.LoadHarness;

/// <summary>
/// SYNC of many conversations: one user in N channels (a team's general and N − 1 more; at most 1,000 per
/// team), each holding some messages from a team-mate, some read and some not, so every entry carries a read
/// position, unread and mention counts. A device then syncs everything, page by page (500 per page), again
/// and again: what a phone does on every reconnect. Reports the time per full sync and the gateway's CPU.
/// </summary>
internal static class SyncScenario
{
    private const int Rounds = 50;

    public static async Task<object> RunAsync(HarnessOptions options)
    {
        await using var gateway = await GatewayProcess.StartAsync(options.GatewayDll, options.Gc, new Dictionary<string, string>
        {
            ["Limits:MaxChannelsPerTeam"] = "100000",
        });
        var conversations = options.Connections;
        Console.WriteLine($"gateway pid {gateway.ProcessId}; 1 user in {conversations} conversations of {options.Messages} messages each");

        var (syncerId, readerDevice, readerToken) = await gateway.SignupAsync("syncer");
        var (_, writerDevice, writerToken) = await gateway.SignupAsync("writer");
        var (teamId, general) = await gateway.CreateTeamAsync(readerToken, "sync");
        await gateway.JoinAsync(writerToken, await gateway.CreateInviteAsync(readerToken, teamId));
        var channels = new List<Guid> { general };
        for (var i = 1; i < conversations; i++)
        {
            var channel = await gateway.CreateChannelAsync(readerToken, teamId, $"c{i:D5}");
            await JoinAsync(gateway, writerToken, channel);
            channels.Add(channel);
        }

        // The writer fills every channel; every other message mentions the syncing user.
        using (var writer = await LoadConnection.ConnectAsync(IPAddress.Loopback, gateway.TcpEndPoint, writerToken, writerDevice, CancellationToken.None))
        {
            var output = new ArrayBufferWriter<byte>(256);
            uint requestId = 0;
            foreach (var channel in channels)
            {
                for (var m = 0; m < options.Messages; m++)
                {
                    output.ResetWrittenCount();
                    FrameCodec.Write(output, new Send(++requestId, channel, Guid.CreateVersion7(), "text/plain", "hello"u8.ToArray())
                    {
                        Mentions = m % 2 == 0 ? [syncerId] : [],
                    });
                    await writer.SendAsync(output.WrittenMemory, CancellationToken.None);
                }
            }

            for (var acked = 0; acked < requestId;)
            {
                var (header, _) = await writer.ReadFrameAsync(CancellationToken.None);
                acked += header.OpcodeValue == (uint)Opcode.SendAck ? 1 : 0;
            }
        }

        using var reader = await LoadConnection.ConnectAsync(IPAddress.Loopback, gateway.TcpEndPoint, readerToken, readerDevice, CancellationToken.None);

        // Half the channels read up to their second message: counts differ from entry to entry.
        var output2 = new ArrayBufferWriter<byte>(64);
        uint rid = 1_000_000;
        for (var i = 0; i < channels.Count; i += 2)
        {
            output2.ResetWrittenCount();
            FrameCodec.Write(output2, new MarkRead(++rid, channels[i], 2));
            await reader.SendAsync(output2.WrittenMemory, CancellationToken.None);
            await ReadUntilAsync(reader, Opcode.Ok);
        }

        await SyncAllAsync(reader, conversations); // warm-up
        var times = new double[Rounds];
        var cpuBefore = gateway.CpuTime;
        var started = Stopwatch.GetTimestamp();
        for (var round = 0; round < Rounds; round++)
        {
            var one = Stopwatch.GetTimestamp();
            await SyncAllAsync(reader, conversations);
            times[round] = Stopwatch.GetElapsedTime(one).TotalMilliseconds;
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        var cpu = gateway.CpuTime - cpuBefore;
        Array.Sort(times);
        var median = times[Rounds / 2];
        Console.WriteLine($"SYNC of {conversations} conversations: median {median:F1} ms, p90 {times[(int)(Rounds * 0.9)]:F1} ms, max {times[^1]:F1} ms; gateway CPU {cpu.TotalMilliseconds / Rounds:F1} ms per full sync");
        return new
        {
            scenario = "sync",
            gc = options.Gc,
            conversations,
            messages_per_conversation = options.Messages,
            rounds = Rounds,
            median_ms = median,
            p90_ms = times[(int)(Rounds * 0.9)],
            max_ms = times[^1],
            seconds = elapsed.TotalSeconds,
            gateway_cpu_ms_per_sync = cpu.TotalMilliseconds / Rounds,
        };
    }

    // Every page of SYNC, 500 entries each.
    private static async Task SyncAllAsync(LoadConnection connection, int expected)
    {
        var after = Guid.Empty;
        var seen = 0;
        var output = new ArrayBufferWriter<byte>(64);
        while (true)
        {
            output.ResetWrittenCount();
            FrameCodec.Write(output, new Sync(7, after, 500));
            await connection.SendAsync(output.WrittenMemory, CancellationToken.None);
            var page = LoadConnection.Decode<SyncPage>(await ReadUntilAsync(connection, Opcode.SyncPage));
            seen += page.Conversations.Count;
            if (!page.HasMore)
            {
                break;
            }

            after = page.Conversations[^1].ConversationId;
        }

        if (seen != expected)
        {
            throw new InvalidOperationException($"SYNC listed {seen} conversations; {expected} expected.");
        }
    }

    private static async Task<ReadOnlySequence<byte>> ReadUntilAsync(LoadConnection connection, Opcode opcode)
    {
        while (true)
        {
            var (header, body) = await connection.ReadFrameAsync(CancellationToken.None);
            if (header.OpcodeValue == (uint)opcode)
            {
                return body;
            }

            if (header.OpcodeValue == (uint)Opcode.Error)
            {
                var error = LoadConnection.Decode<ErrorFrame>(body);
                throw new InvalidOperationException($"{error.Name}: {error.Message}");
            }
        }
    }

    private static async Task JoinAsync(GatewayProcess gateway, string token, Guid channel)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/channels/{channel}/join");
        request.Headers.Authorization = new("Bearer", token);
        (await gateway.Api.SendAsync(request)).EnsureSuccessStatusCode();
    }
}
