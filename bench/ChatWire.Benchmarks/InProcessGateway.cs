extern alias gateway;

using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Security.Cryptography;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using ChatWire.Storage.Directory;
using gateway::ChatWire.Gateway.Connections;
using gateway::ChatWire.Gateway.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;

namespace ChatWire.Benchmarks;

/// <summary>
/// The whole gateway in process (embedded SQLite in a temp directory, in-process bus), with its protocol
/// connections opened through the production <see cref="ChatWireConnectionHandler"/> over a pair of
/// <see cref="Pipe"/>s instead of a socket: everything above the transport (ProtocolConnection, the
/// session check, the fan-out's routes, presence, the registry) is the production code. Users, their device
/// sessions, one team and one public channel holding every seeded user are written straight into the
/// server's directory store, as the load harness's seed does, because password hashing would dominate.
/// </summary>
internal sealed class InProcessGateway : IAsyncDisposable
{
    private readonly ChatWireServer _server;
    private readonly string _dataDirectory;
    private readonly ChatWireConnectionHandler _handler;
    private readonly MemoryPool<byte> _pool;

    private InProcessGateway(ChatWireServer server, string dataDirectory)
    {
        _server = server;
        _dataDirectory = dataDirectory;
        Services = server.App.Services.GetRequiredService<ConnectionServices>();
        _handler = new ChatWireConnectionHandler(Services);

        // The pool Kestrel's socket transport gives its pipes (pinned blocks kept for reuse from any thread).
        // MemoryPool<byte>.Shared would stand in badly: the fan-out's lanes rent blocks on their threads and
        // the draining thread returns them, which overflows ArrayPool's per-core caches and allocates anew.
        _pool = server.App.Services.GetRequiredService<IMemoryPoolFactory<byte>>().Create();
    }

    public ConnectionServices Services { get; }

    public IServiceProvider Provider => _server.App.Services;

    public Guid ChannelId { get; private set; }

    public IReadOnlyList<(Guid UserId, Guid DeviceId, string Token)> Devices { get; private set; } = [];

    /// <summary>Starts a gateway and seeds <paramref name="users"/> users, one device each, all in one channel.</summary>
    public static async Task<InProcessGateway> StartAsync(int users)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "chatwire-bench-" + Guid.NewGuid().ToString("N"));
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:TcpEndpoint"] = "127.0.0.1:0",
            ["Gateway:TlsEndpoint"] = "",
            ["Gateway:NoiseEndpoint"] = "",
            ["Gateway:HttpEndpoint"] = "127.0.0.1:0",
            ["Gateway:ManagementEndpoint"] = "localhost:0",
            ["Gateway:DataDirectory"] = dataDirectory,

            // Idle means idle, and a benchmark's thousands of frames are not a flood to be slowed down.
            ["Gateway:HeartbeatIntervalMs"] = "3600000",
            ["Gateway:MaxConnectionsPerIp"] = "1000000",
            ["Gateway:MaxConnectionsPerUser"] = "0",
            ["Limits:SendMessagesPerSecondPerUser"] = "0",
            ["Limits:ApiRequestsPerMinutePerUser"] = "0",
            ["Limits:ApiRequestsPerMinutePerAddress"] = "0",
            ["Gateway:ConnectionsPerMinutePerIp"] = "0",
            ["Limits:SendBytesPerSecondPerUser"] = "0",
            ["Limits:SendMessagesPerSecondPerDevice"] = "0",
            ["Limits:SendBytesPerSecondPerDevice"] = "0",
            ["Limits:SendMessagesPerSecondPerConversation"] = "0",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        var server = await ChatWireServer.CreateAsync([], settings);
        await server.StartAsync();
        var gateway = new InProcessGateway(server, dataDirectory);
        await gateway.SeedAsync(users);
        return gateway;
    }

    private async Task SeedAsync(int users)
    {
        var directory = Provider.GetRequiredService<IDirectoryStore>();
        var now = DateTimeOffset.UtcNow;
        var devices = new List<(Guid, Guid, string)>(users);
        for (var u = 0; u < users; u++)
        {
            var userId = Guid.CreateVersion7();
            await directory.CreateUserAsync(new UserRecord(userId, $"bench{u:D7}", $"Bench {u}", "$seeded$no-password-matches", now));
            var raw = RandomNumberGenerator.GetBytes(32);
            var deviceId = Guid.CreateVersion7();
            await directory.CreateDeviceSessionAsync(new DeviceSessionRecord(deviceId, userId, "benchmark", SHA256.HashData(raw), now, now, null));
            devices.Add((userId, deviceId, Base64Url.EncodeToString(raw)));
        }

        var owner = devices[0].Item1;
        var teamId = Guid.CreateVersion7();
        await directory.CreateTeamAsync(new TeamRecord(teamId, "bench", owner, now));
        foreach (var (userId, _, _) in devices)
        {
            await directory.AddTeamMemberAsync(teamId, userId, userId == owner ? TeamRole.Owner : TeamRole.Member, now);
        }

        ChannelId = Guid.CreateVersion7();
        await directory.CreateConversationAsync(
            new ConversationRecord(ChannelId, ConversationKind.PublicChannel, teamId, "bench", null, owner, now),
            devices.Select(d => d.Item1).ToArray());
        Devices = devices;
    }

    /// <summary>Opens a connection for seeded device <paramref name="index"/> and completes HELLO and AUTH on it.</summary>
    public async Task<PipeSession> OpenAsync(int index)
    {
        var (_, deviceId, token) = Devices[index];
        var session = new PipeSession(_pool);
        session.Running = _handler.OnConnectedAsync(session.Context);
        await session.WriteAsync(new Hello(1, ProtocolLimits.CurrentVersion, "benchmark", []));
        await session.WriteAsync(new Auth(2, token, deviceId));
        await session.ExpectAsync(Opcode.Welcome);
        await session.ExpectAsync(Opcode.AuthOk);
        session.Connection = Services.Registry.Connections.Single(c => c.Identity?.DeviceId == deviceId);
        return session;
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _pool.Dispose();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp directory left behind does no harm.
        }
    }
}

/// <summary>
/// The client's end of one in-process connection: what it writes goes to the server's input pipe, what the
/// server writes is read (or drained) from the server's output pipe.
/// </summary>
internal sealed class PipeSession
{
    private static int _next;

    private readonly Pipe _toServer;
    private readonly Pipe _fromServer;

    public PipeSession(MemoryPool<byte> pool)
    {
        // Kestrel's socket transport uses the same pool and 4 KiB minimum segments.
        var options = new PipeOptions(pool, minimumSegmentSize: 4096, useSynchronizationContext: false);
        _toServer = new Pipe(options);
        _fromServer = new Pipe(options);
        Context = new DefaultConnectionContext(
            $"bench-{Interlocked.Increment(ref _next)}",
            new DuplexPipe(_toServer.Reader, _fromServer.Writer),
            new DuplexPipe(_fromServer.Reader, _toServer.Writer));
    }

    public DefaultConnectionContext Context { get; }

    public Task Running { get; set; } = Task.CompletedTask;

    public ProtocolConnection Connection { get; set; } = null!;

    public ValueTask<FlushResult> WriteAsync<T>(in T frame)
        where T : struct, IFrame<T>
    {
        FrameCodec.Write(_toServer.Writer, frame);
        return _toServer.Writer.FlushAsync();
    }

    /// <summary>Waits for the next frame from the server and throws unless it has <paramref name="opcode"/>.</summary>
    public async ValueTask ExpectAsync(Opcode opcode)
    {
        if (await CountUntilAsync(opcode, 1, strict: true) != 0)
        {
            throw new InvalidOperationException($"Expected {opcode} first.");
        }
    }

    /// <summary>
    /// Reads frames from the server until <paramref name="count"/> of them had <paramref name="opcode"/>; returns
    /// how many others came meanwhile (with <paramref name="strict"/>, any other throws).
    /// </summary>
    public async ValueTask<int> CountUntilAsync(Opcode opcode, int count, bool strict = false)
    {
        var reader = _fromServer.Reader;
        var others = 0;
        while (count > 0)
        {
            var result = await reader.ReadAsync();
            var buffer = result.Buffer;
            while (count > 0 && FrameReader.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxFrameLength, out var body))
            {
                var header = ReadHeader(body);
                if (header.Opcode == opcode)
                {
                    count--;
                }
                else if (strict)
                {
                    throw new InvalidOperationException($"Expected {opcode}, the server sent {header.Opcode}.");
                }
                else
                {
                    others++;
                }
            }

            if (count > 0 && result.IsCompleted)
            {
                throw new InvalidOperationException($"The server closed the connection before {opcode}.");
            }

            // Frames left over stay unexamined, so the next read returns them at once.
            reader.AdvanceTo(buffer.Start, count > 0 ? buffer.End : buffer.Start);
        }

        return others;
    }

    /// <summary>Counts and discards whatever the server has written so far, without waiting.</summary>
    public long Drain()
    {
        var reader = _fromServer.Reader;
        if (!reader.TryRead(out var result))
        {
            return 0;
        }

        var length = result.Buffer.Length;
        reader.AdvanceTo(result.Buffer.End);
        return length;
    }

    private static FrameHeader ReadHeader(ReadOnlySequence<byte> body)
    {
        var reader = new MessagePack.MessagePackReader(body);
        return FrameCodec.ReadHeader(ref reader);
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
