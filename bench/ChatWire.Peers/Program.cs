using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

// Measures a Redis pub/sub server started by scripts/peers.sh with the same idle and fan-out shapes the
// ChatWire load harness uses: idle = N subscribed connections, server RSS slope between two counts;
// fan-out = 1 publisher, R subscribers on one channel, M messages, deliveries/s and latency p50/p99.
// usage: ChatWire.Peers redis|nats PORT SERVER_PID [--counts 2000,6000] [--recipients 1000] [--messages 2000] [--content-bytes 200]
if (args.Length < 3 || args[0] is not ("redis" or "nats"))
{
    Console.Error.WriteLine("usage: ChatWire.Peers redis|nats PORT SERVER_PID [--counts 2000,6000] [--recipients 1000] [--messages 2000] [--content-bytes 200]");
    return 2;
}

var kind = args[0];
var port = int.Parse(args[1], CultureInfo.InvariantCulture);
var pid = int.Parse(args[2], CultureInfo.InvariantCulture);
int[] counts = [2_000, 6_000];
var recipients = 1_000;
var messages = 2_000;
var contentBytes = 200;
for (var i = 3; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--counts": counts = args[i + 1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
        case "--recipients": recipients = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--messages": messages = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        case "--content-bytes": contentBytes = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
    }
}

// Idle: each connection subscribed to its own channel.
var idle = new List<Socket>();
var readings = new List<(int Count, long Rss)>();
foreach (var target in counts)
{
    while (idle.Count < target)
    {
        idle.Add(await SubscribeAsync(kind, port, $"idle{idle.Count}"));
    }

    await Task.Delay(2_000);
    readings.Add((target, ReadRss(pid)));
    Console.WriteLine($"{kind} idle {target} connections: RSS {readings[^1].Rss / 1024} KB");
}

var slope = (readings[^1].Rss - readings[0].Rss) / (double)(readings[^1].Count - readings[0].Count);
Console.WriteLine($"{kind} idle slope: {slope / 1024:F2} KB/connection");
foreach (var socket in idle)
{
    socket.Dispose();
}

// Fan-out: best of three runs.
var best = (Rate: 0.0, P50: 0.0, P99: 0.0);
for (var run = 0; run < 3; run++)
{
    var result = await FanoutAsync(kind, port, recipients, messages, contentBytes);
    Console.WriteLine($"{kind} fanout run {run + 1}: {result.Rate:F0} deliveries/s, p50 {result.P50:F2} ms, p99 {result.P99:F2} ms");
    if (result.Rate > best.Rate)
    {
        best = result;
    }
}

Console.WriteLine(FormattableString.Invariant($"RESULT {kind} idle_kb_per_connection={slope / 1024:F2} deliveries_per_s={best.Rate:F0} p50_ms={best.P50:F2} p99_ms={best.P99:F2}"));
return 0;

static async Task<(double Rate, double P50, double P99)> FanoutAsync(string kind, int port, int recipients, int messages, int contentBytes)
{
    var subscribers = new List<Socket>();
    for (var i = 0; i < recipients; i++)
    {
        subscribers.Add(await SubscribeAsync(kind, port, "fanout"));
    }

    var latencies = new double[recipients * (long)messages];
    var filled = 0L;
    var readers = subscribers.Select((socket, index) => Task.Run(async () =>
    {
        IMessageReader parser = kind == "redis" ? new RespMessageReader() : new NatsMessageReader();
        var buffer = new byte[64 * 1024];
        var received = 0;
        while (received < messages)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None);
            if (n == 0)
            {
                break;
            }

            foreach (var payload in parser.Feed(buffer.AsSpan(0, n)))
            {
                var sent = long.Parse(payload.AsSpan(0, payload.IndexOf(' ')), CultureInfo.InvariantCulture);
                latencies[Interlocked.Increment(ref filled) - 1] = (Stopwatch.GetTimestamp() - sent) * 1000.0 / Stopwatch.Frequency;
                received++;
            }
        }
    })).ToList();

    var publisher = await ConnectAsync(port);
    if (kind == "nats")
    {
        await ReadReplyAsync(publisher, new byte[4096]);
        await SendAsync(publisher, Encoding.ASCII.GetBytes("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n"));
    }

    var padding = new string('x', contentBytes);
    var replyBuffer = new byte[64 * 1024];
    var start = Stopwatch.GetTimestamp();
    // Both publishers keep at most Window messages unconfirmed, like the harness's ChatWire sender: Redis
    // pipelines a batch of PUBLISHes and reads their integer replies; NATS follows a batch of PUBs with a PING
    // and waits for the PONG.
    const int Window = 50;
    for (var m = 0; m < messages; m += Window)
    {
        var batch = Math.Min(Window, messages - m);
        var frames = new StringBuilder();
        for (var k = 0; k < batch; k++)
        {
            var body = (Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture) + " " + padding)[..contentBytes];
            frames.Append(kind == "redis" ? Encoding.UTF8.GetString(Resp.Command("PUBLISH", "fanout", body)) : $"PUB fanout {contentBytes}\r\n{body}\r\n");
        }

        if (kind == "nats")
        {
            frames.Append("PING\r\n");
        }

        await SendAsync(publisher, Encoding.UTF8.GetBytes(frames.ToString()));
        var lines = 0;
        var expected = kind == "redis" ? batch : 1;
        while (lines < expected)
        {
            var n = await publisher.ReceiveAsync(replyBuffer, SocketFlags.None);
            lines += replyBuffer.AsSpan(0, n).Count((byte)'\n');
        }
    }

    var all = Task.WhenAll(readers);
    await Task.WhenAny(all, Task.Delay(60_000));
    var elapsed = (Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency;
    publisher.Dispose();
    foreach (var socket in subscribers)
    {
        socket.Dispose();
    }

    var done = latencies.AsSpan(0, (int)Math.Min(filled, latencies.Length)).ToArray();
    Array.Sort(done);
    return (done.Length / elapsed, Percentile(done, 0.50), Percentile(done, 0.99));
}

static async Task<Socket> SubscribeAsync(string kind, int port, string channel)
{
    var socket = await ConnectAsync(port);
    var buffer = new byte[4096];
    if (kind == "redis")
    {
        await SendAsync(socket, Resp.Command("SUBSCRIBE", channel));
    }
    else
    {
        // INFO first, then CONNECT, SUB and a PING whose PONG confirms the subscription is in place.
        await ReadReplyAsync(socket, buffer);
        await SendAsync(socket, Encoding.ASCII.GetBytes($"CONNECT {{\"verbose\":false,\"pedantic\":false}}\r\nSUB {channel} 1\r\nPING\r\n"));
    }

    await ReadReplyAsync(socket, buffer);
    return socket;
}

static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

static async Task<Socket> ConnectAsync(int port)
{
    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    await socket.ConnectAsync("127.0.0.1", port);
    return socket;
}

static async Task SendAsync(Socket socket, byte[] data)
{
    var sent = 0;
    while (sent < data.Length)
    {
        sent += await socket.SendAsync(data.AsMemory(sent), SocketFlags.None);
    }
}

// Reads one short reply (a SUBSCRIBE confirmation or a PUBLISH count); both arrive in one segment on loopback.
static async Task ReadReplyAsync(Socket socket, byte[] buffer) => await socket.ReceiveAsync(buffer, SocketFlags.None);

static long ReadRss(int pid)
{
    foreach (var line in File.ReadLines($"/proc/{pid}/status"))
    {
        if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
        {
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
    }

    throw new InvalidOperationException($"no VmRSS for pid {pid}");
}

/// <summary>RESP encoding of client commands (arrays of bulk strings).</summary>
internal static class Resp
{
    public static byte[] Command(params string[] parts)
    {
        var builder = new StringBuilder();
        builder.Append('*').Append(parts.Length).Append("\r\n");
        foreach (var part in parts)
        {
            builder.Append('$').Append(Encoding.UTF8.GetByteCount(part)).Append("\r\n").Append(part).Append("\r\n");
        }

        return Encoding.UTF8.GetBytes(builder.ToString());
    }
}

/// <summary>
/// Extracts the payloads of pub/sub pushes (*3 $7 message $channel $payload) from a RESP byte stream
/// that arrives in arbitrary pieces.
/// </summary>
internal sealed class RespMessageReader : IMessageReader
{
    private readonly List<byte> pending = [];

    public List<string> Feed(ReadOnlySpan<byte> data)
    {
        pending.AddRange(data);
        var payloads = new List<string>();
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(pending);
        var consumed = 0;
        while (TryReadPush(span[consumed..], out var length, out var payload))
        {
            consumed += length;
            if (payload is not null)
            {
                payloads.Add(payload);
            }
        }

        pending.RemoveRange(0, consumed);
        return payloads;
    }

    private static bool TryReadPush(ReadOnlySpan<byte> span, out int length, out string? payload)
    {
        length = 0;
        payload = null;
        if (!TryReadLine(span, 0, out var header, out var position) || header.Length == 0 || header[0] != '*')
        {
            return false;
        }

        var items = int.Parse(header.AsSpan(1), CultureInfo.InvariantCulture);
        var values = new string[items];
        for (var i = 0; i < items; i++)
        {
            if (!TryReadLine(span, position, out var itemHeader, out position))
            {
                return false;
            }

            if (itemHeader[0] == ':')
            {
                values[i] = itemHeader[1..];
                continue;
            }

            var size = int.Parse(itemHeader.AsSpan(1), CultureInfo.InvariantCulture);
            if (position + size + 2 > span.Length)
            {
                return false;
            }

            values[i] = Encoding.UTF8.GetString(span.Slice(position, size));
            position += size + 2;
        }

        length = position;
        payload = items == 3 && values[0] == "message" ? values[2] : null;
        return true;
    }

    private static bool TryReadLine(ReadOnlySpan<byte> span, int start, out string line, out int next)
    {
        var end = span[start..].IndexOf("\r\n"u8);
        if (end < 0)
        {
            line = string.Empty;
            next = start;
            return false;
        }

        line = Encoding.ASCII.GetString(span.Slice(start, end));
        next = start + end + 2;
        return true;
    }
}

/// <summary>Extracts message payloads from a server's byte stream that arrives in arbitrary pieces.</summary>
internal interface IMessageReader
{
    List<string> Feed(ReadOnlySpan<byte> data);
}

/// <summary>
/// Extracts the payloads of NATS MSG frames ("MSG subject sid [reply] size" CRLF payload CRLF); other
/// server lines (PING, PONG, +OK, INFO) are skipped.
/// </summary>
internal sealed class NatsMessageReader : IMessageReader
{
    private readonly List<byte> pending = [];

    public List<string> Feed(ReadOnlySpan<byte> data)
    {
        pending.AddRange(data);
        var payloads = new List<string>();
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(pending);
        var consumed = 0;
        while (true)
        {
            var rest = span[consumed..];
            var end = rest.IndexOf("\r\n"u8);
            if (end < 0)
            {
                break;
            }

            var line = Encoding.ASCII.GetString(rest[..end]);
            if (!line.StartsWith("MSG ", StringComparison.Ordinal))
            {
                consumed += end + 2;
                continue;
            }

            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var size = int.Parse(fields[^1], CultureInfo.InvariantCulture);
            if (end + 2 + size + 2 > rest.Length)
            {
                break;
            }

            payloads.Add(Encoding.UTF8.GetString(rest.Slice(end + 2, size)));
            consumed += end + 2 + size + 2;
        }

        pending.RemoveRange(0, consumed);
        return payloads;
    }
}
