using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using ChatWire.Gateway.Transport;
using Microsoft.AspNetCore.Connections;

namespace ChatWire.Gateway.Tests.Transport;

// The lean transport on its own: a real listening socket, a real client socket, the connection's reader and
// writer driven the way Kestrel and ProtocolConnection drive them. Buffer ownership is checked through the
// pool's counters, never through timings.
public sealed class LeanTransportTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ReadAsync_FrameSplitAcrossReceives_ReturnsEachPartAndKeepsTheUnconsumed()
    {
        await using var pair = await Pair.ConnectAsync();
        var input = pair.Server.Transport.Input;

        pair.Client.Send(new byte[] { 1, 2, 3 });
        var first = await input.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(new byte[] { 1, 2, 3 }, first.Buffer.ToArray());
        input.AdvanceTo(first.Buffer.Start, first.Buffer.End);

        pair.Client.Send(new byte[] { 4, 5 });
        var second = await input.ReadAsync().AsTask().WaitAsync(Wait);

        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, second.Buffer.ToArray());
        input.AdvanceTo(second.Buffer.End);
        Assert.Equal(0, pair.Pool.Outstanding);
    }

    [Fact]
    public async Task ReadAsync_LargeFrame_SpansBlocksAndReturnsThemAllWhenConsumed()
    {
        await using var pair = await Pair.ConnectAsync();
        var payload = new byte[300 * 1024];
        Random.Shared.NextBytes(payload);
        var sending = Task.Run(() => pair.Client.Send(payload));

        var buffer = await ReadAtLeastAsync(pair.Server.Transport.Input, payload.Length);

        await sending.WaitAsync(Wait);
        Assert.False(buffer.IsSingleSegment);
        Assert.Equal(payload, buffer.ToArray());
        Assert.True(pair.Pool.Outstanding >= payload.Length / pair.Pool.BlockSize);
        pair.Server.Transport.Input.AdvanceTo(buffer.End);
        Assert.Equal(0, pair.Pool.Outstanding);
    }

    [Fact]
    public async Task ReadAsync_ManySmallFramesInOneReceive_ConsumedOneByOneInOrder()
    {
        await using var pair = await Pair.ConnectAsync();
        var frames = Enumerable.Range(0, 1000).SelectMany(i => new byte[] { 4, (byte)i, (byte)(i >> 8), 0xAA, 0x55 }).ToArray();
        pair.Client.Send(frames);
        var input = pair.Server.Transport.Input;

        var seen = 0;
        while (seen < 1000)
        {
            var result = await input.ReadAsync().AsTask().WaitAsync(Wait);
            var buffer = result.Buffer;
            while (buffer.Length >= 5)
            {
                var frame = buffer.Slice(0, 5).ToArray();
                Assert.Equal(new byte[] { 4, (byte)seen, (byte)(seen >> 8), 0xAA, 0x55 }, frame);
                seen++;
                buffer = buffer.Slice(5);
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }

        Assert.Equal(0, pair.Pool.Outstanding);
    }

    [Fact]
    public async Task ReadAsync_PeerHalfCloses_CompletesAfterTheDataAndTheServerCanStillAnswer()
    {
        await using var pair = await Pair.ConnectAsync();
        pair.Client.Send("bye"u8.ToArray());
        pair.Client.Shutdown(SocketShutdown.Send);
        var input = pair.Server.Transport.Input;

        var buffer = await ReadAtLeastAsync(input, 3);
        var data = buffer.ToArray();
        input.AdvanceTo(buffer.End);
        var end = await input.ReadAsync().AsTask().WaitAsync(Wait);
        await pair.Server.Transport.Output.WriteAsync("ok"u8.ToArray());
        var answer = new byte[2];
        var got = await pair.Client.ReceiveAsync(answer.AsMemory()).AsTask().WaitAsync(Wait);

        Assert.Equal("bye"u8.ToArray(), data);
        Assert.True(end.IsCompleted);
        Assert.True(end.Buffer.IsEmpty);
        Assert.Equal(2, got);
        Assert.Equal("ok"u8.ToArray(), answer);
        Assert.True(pair.Server.ConnectionClosed.WaitHandle.WaitOne(Wait));
    }

    [Fact]
    public async Task ReadAsync_PeerResets_ThrowsConnectionReset()
    {
        await using var pair = await Pair.ConnectAsync();
        var pending = pair.Server.Transport.Input.ReadAsync().AsTask();

        pair.Client.LingerState = new LingerOption(true, 0);
        pair.Client.Close();

        await Assert.ThrowsAsync<ConnectionResetException>(() => pending.WaitAsync(Wait));
        Assert.Equal(0, pair.Pool.Outstanding);
    }

    [Fact]
    public async Task CancelPendingRead_WhileWaiting_WakesTheReadAndLaterDataStillArrives()
    {
        await using var pair = await Pair.ConnectAsync();
        var input = pair.Server.Transport.Input;
        var pending = input.ReadAsync().AsTask();

        input.CancelPendingRead();
        var canceled = await pending.WaitAsync(Wait);
        pair.Client.Send(new byte[] { 7 });
        var next = await input.ReadAsync().AsTask().WaitAsync(Wait);

        Assert.True(canceled.IsCanceled);
        Assert.False(canceled.IsCompleted);
        Assert.Equal(new byte[] { 7 }, next.Buffer.ToArray());
        input.AdvanceTo(next.Buffer.End);
    }

    [Fact]
    public async Task FlushAsync_PeerNotReading_PendsUntilThePeerReadsThenReturnsEveryBlock()
    {
        await using var pair = await Pair.ConnectAsync();
        var output = pair.Server.Transport.Output;

        var flush = await FillUntilFlushPendsAsync(output);
        Assert.False(flush.IsCompleted);
        Assert.True(pair.Pool.Outstanding > 0);

        var drain = Task.Run(() => DrainAsync(pair.Client));
        var result = await flush.AsTask().WaitAsync(Wait);

        Assert.False(result.IsCompleted);
        Assert.False(result.IsCanceled);
        Assert.Equal(0, pair.Pool.Outstanding);
        pair.Client.Shutdown(SocketShutdown.Both);
        await drain.WaitAsync(Wait);
    }

    [Fact]
    public async Task FlushAsync_SmallWrites_CompleteAtOnceAndArriveInOrder()
    {
        await using var pair = await Pair.ConnectAsync();
        var output = pair.Server.Transport.Output;
        var expected = new byte[300 * 101];
        for (var i = 0; i < 300; i++)
        {
            var chunk = expected.AsSpan(i * 101, 101);
            chunk.Fill((byte)i);
            chunk.CopyTo(output.GetSpan(101));
            output.Advance(101);

            // Below the pause threshold a flush never waits for the socket: the bytes queue behind the send under way.
            var flush = output.FlushAsync();
            Assert.True(flush.IsCompletedSuccessfully);
            Assert.False((await flush).IsCompleted);
        }

        var received = new byte[expected.Length];
        var got = 0;
        while (got < received.Length)
        {
            got += await pair.Client.ReceiveAsync(received.AsMemory(got)).AsTask().WaitAsync(Wait);
        }

        Assert.Equal(expected, received);
        await WaitUntilAsync(() => pair.Pool.Outstanding == 0);
    }

    [Fact]
    public async Task FlushAsync_ChainsOfManyBlocksTakenInPieces_ArriveIntactAndEveryBlockComesBack()
    {
        // Writes of every size, flushed a few at a time, so each flush is a chain of blocks (some starting inside a
        // block, some oversized); a small send buffer and a slow reader make the socket take each chain in pieces
        // that end anywhere in it.
        await using var pair = await Pair.ConnectAsync();
        var output = pair.Server.Transport.Output;
        var random = new Random(12);
        var expected = new MemoryStream();
        var receiving = Task.Run(async () =>
        {
            // Its own generator: Random is not safe to share with the writing loop.
            var sizes = new Random(13);
            var received = new MemoryStream();
            var buffer = new byte[1500];
            int n;
            while ((n = await pair.Client.ReceiveAsync(buffer.AsMemory(0, sizes.Next(1, buffer.Length)))) > 0)
            {
                received.Write(buffer, 0, n);
            }

            return received.ToArray();
        });

        for (var flushNumber = 0; flushNumber < 200; flushNumber++)
        {
            for (var writes = random.Next(1, 12); writes > 0; writes--)
            {
                var size = random.Next(10) == 0 ? random.Next(4097, 9000) : random.Next(1, 3000);
                var bytes = new byte[size];
                random.NextBytes(bytes);
                bytes.CopyTo(output.GetSpan(size));
                output.Advance(size);
                expected.Write(bytes);
            }

            await output.FlushAsync().AsTask().WaitAsync(Wait);
        }

        await pair.Server.DisposeAsync();
        Assert.Equal(expected.ToArray(), await receiving.WaitAsync(Wait));
        Assert.Equal(0, pair.Pool.Outstanding);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DisposeAsync_WithBytesStillQueued_SendsThemBeforeClosing(bool smallSendBuffer)
    {
        // Without the small send buffer the connection never makes a runtime Socket (its close must still be a FIN
        // after the last byte, not a reset that would throw away what the kernel still holds).
        var pair = await Pair.ConnectAsync(smallSendBuffer);
        using (pair)
        {
            var output = pair.Server.Transport.Output;
            var expected = new byte[60 * 1024];
            Random.Shared.NextBytes(expected);
            await output.WriteAsync(expected);

            // The flush completed before the peer read anything; the peer starts reading only after the dispose began.
            var dispose = pair.Server.DisposeAsync().AsTask();
            var received = new MemoryStream();
            var buffer = new byte[4096];
            int n;
            while ((n = await pair.Client.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(Wait)) > 0)
            {
                received.Write(buffer, 0, n);
            }

            await dispose.WaitAsync(Wait);
            Assert.Equal(expected, received.ToArray());
            await pair.Listener.DisposeAsync();
        }
    }

    [Fact]
    public async Task Abort_DuringPendingFlush_CompletesTheFlushAndTheReadAndReturnsBlocks()
    {
        await using var pair = await Pair.ConnectAsync();
        var read = pair.Server.Transport.Input.ReadAsync().AsTask();
        var flush = await FillUntilFlushPendsAsync(pair.Server.Transport.Output);

        pair.Server.Abort(new ConnectionAbortedException("test abort"));

        var result = await flush.AsTask().WaitAsync(Wait);
        var failure = await Assert.ThrowsAsync<ConnectionAbortedException>(() => read.WaitAsync(Wait));
        Assert.True(result.IsCompleted);
        Assert.Equal("test abort", failure.Message);
        Assert.True(pair.Server.ConnectionClosed.WaitHandle.WaitOne(Wait));
        await WaitUntilAsync(() => pair.Pool.Outstanding == 0);
    }

    [Fact]
    public async Task IdleConnection_AfterTraffic_HoldsNoBlock()
    {
        await using var pair = await Pair.ConnectAsync();
        var input = pair.Server.Transport.Input;
        pair.Client.Send(new byte[100]);
        var buffer = await ReadAtLeastAsync(input, 100);
        input.AdvanceTo(buffer.End);
        await pair.Server.Transport.Output.WriteAsync(new byte[5000]);
        await ReceiveExactlyAsync(pair.Client, 5000);

        // Idle: a read is pending, nothing is buffered either way. The client can hold all 5,000 bytes before
        // the sending thread is back from its sendmsg and lets go of the chain, so the release is waited for.
        var pending = input.ReadAsync().AsTask();
        await WaitUntilAsync(() => !pair.Server.HoldsBuffer && pair.Pool.Outstanding == 0);

        Assert.False(pending.IsCompleted);
        Assert.True(pair.Pool.Taken > 0);
    }

    [Fact]
    public async Task ManyConnections_ClosedAndOpenedAgain_EachIsWokenForItsOwnBytes()
    {
        // On Linux idle connections wait in one shared epoll set; a closed connection's place there is given to
        // a later one. Each round checks that every connection is woken for its own bytes, with the places of the
        // previous round's connections (closed with a read pending) reused.
        for (var round = 0; round < 3; round++)
        {
            var pairs = new List<Pair>();
            for (var i = 0; i < 20; i++)
            {
                pairs.Add(await Pair.ConnectAsync());
            }

            var reads = pairs.Select(p => p.Server.Transport.Input.ReadAsync().AsTask()).ToList();
            for (var i = pairs.Count - 1; i >= 0; i--)
            {
                pairs[i].Client.Send(new byte[] { (byte)i, (byte)round });
            }

            for (var i = 0; i < pairs.Count; i++)
            {
                var result = await reads[i].WaitAsync(Wait);
                Assert.Equal(new byte[] { (byte)i, (byte)round }, result.Buffer.ToArray());
                pairs[i].Server.Transport.Input.AdvanceTo(result.Buffer.End);
            }

            var pending = pairs.Select(p => p.Server.Transport.Input.ReadAsync().AsTask()).ToList();
            foreach (var pair in pairs)
            {
                pair.Server.Abort(new ConnectionAbortedException("round over"));
            }

            foreach (var read in pending)
            {
                await Assert.ThrowsAsync<ConnectionAbortedException>(() => read.WaitAsync(Wait));
            }

            foreach (var pair in pairs)
            {
                await pair.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Features_AsKestrelSetsThem_StoredAndEndPointsKnown()
    {
        await using var pair = await Pair.ConnectAsync();
        var features = pair.Server.Features;

        features.Set<IDisposable>(pair);
        features.Set<IComparable>("x");

        Assert.Same(pair, features.Get<IDisposable>());
        Assert.Equal("x", features.Get<IComparable>());
        Assert.Same(pair.Server, features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionLifetimeFeature>());
        Assert.Equal(((IPEndPoint)pair.Client.LocalEndPoint!).Port, ((IPEndPoint)pair.Server.RemoteEndPoint!).Port);
        Assert.Equal(pair.Listener.EndPoint, pair.Server.LocalEndPoint);
        Assert.StartsWith("lean-", pair.Server.ConnectionId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Features_SharedInstanceReplacedOrRemoved_AnswerAsAnyCollectionWould()
    {
        await using var pair = await Pair.ConnectAsync();
        var features = pair.Server.Features;
        var host = new object();
        var other = new object();

        // Several features set to one instance (as Kestrel sets its four), then one of them set elsewhere and one removed.
        features[typeof(IDisposable)] = host;
        features[typeof(IComparable)] = host;
        features[typeof(ICloneable)] = host;
        features[typeof(IComparable)] = other;
        features[typeof(ICloneable)] = null;
        pair.Server.ConnectionId = "renamed";
        pair.Server.Items["k"] = "v";
        var revision = features.Revision;
        features[typeof(IFormattable)] = host;

        Assert.Same(host, features[typeof(IDisposable)]);
        Assert.Same(other, features[typeof(IComparable)]);
        Assert.Null(features[typeof(ICloneable)]);
        Assert.Same(host, features[typeof(IFormattable)]);
        Assert.Null(features[typeof(IServiceProvider)]);
        Assert.True(features.Revision > revision);
        Assert.Equal("renamed", pair.Server.ConnectionId);
        Assert.Equal("v", pair.Server.Items["k"]);
        Assert.Same(pair.Server, features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionIdFeature>());

        var listed = features.ToList();
        Assert.Equal(listed.Count, listed.Select(f => f.Key).Distinct().Count());
        Assert.Contains(listed, f => f.Key == typeof(IDisposable) && ReferenceEquals(f.Value, host));
        Assert.Contains(listed, f => f.Key == typeof(IComparable) && ReferenceEquals(f.Value, other));
        Assert.DoesNotContain(listed, f => f.Key == typeof(ICloneable));
        Assert.Contains(listed, f => f.Key == typeof(Microsoft.AspNetCore.Connections.Features.IConnectionTransportFeature));
    }

    private static async Task<ReadOnlySequence<byte>> ReadAtLeastAsync(PipeReader input, int count)
    {
        while (true)
        {
            var result = await input.ReadAsync().AsTask().WaitAsync(Wait);
            if (result.Buffer.Length >= count || result.IsCompleted)
            {
                return result.Buffer;
            }

            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    // Writes 64 KiB flushes to a peer that does not read until one flush stays pending (the kernel's buffers are full).
    private static async Task<ValueTask<FlushResult>> FillUntilFlushPendsAsync(PipeWriter output)
    {
        for (var i = 0; i < 10_000; i++)
        {
            output.Write(new byte[64 * 1024]);
            var flush = output.FlushAsync();
            if (!flush.IsCompleted)
            {
                return flush;
            }

            await Task.Yield();
        }

        throw new InvalidOperationException("Every flush completed: the peer's buffers never filled.");
    }

    // Reads until the connection ends. The test ends it by shutting the client down; the server may answer that
    // FIN by closing with a reset, which can reach the pending receive before the shutdown's own end of stream.
    private static async Task DrainAsync(Socket socket)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (await socket.ReceiveAsync(buffer) > 0)
            {
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
    }

    private static async Task ReceiveExactlyAsync(Socket socket, int count)
    {
        var buffer = new byte[count];
        var got = 0;
        while (got < count)
        {
            got += await socket.ReceiveAsync(buffer.AsMemory(got)).AsTask().WaitAsync(Wait);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not hold within the wait.");
            await Task.Delay(20);
        }
    }

    private sealed class Pair : IAsyncDisposable, IDisposable
    {
        private Pair(LeanListener listener, Socket client, LeanConnection server, LeanBufferPool pool)
        {
            Listener = listener;
            Client = client;
            Server = server;
            Pool = pool;
        }

        public LeanListener Listener { get; }

        public Socket Client { get; }

        public LeanConnection Server { get; }

        public LeanBufferPool Pool { get; }

        public static async Task<Pair> ConnectAsync(bool smallSendBuffer = true)
        {
            var pool = new LeanBufferPool();
            var listener = LeanListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), pool);
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 16 * 1024 };
            var accepted = listener.AcceptAsync().AsTask();
            await client.ConnectAsync((IPEndPoint)listener.EndPoint);
            var server = (LeanConnection)(await accepted.WaitAsync(Wait))!;
            if (smallSendBuffer)
            {
                server.Socket.SendBufferSize = 16 * 1024;
            }

            return new Pair(listener, client, server, pool);
        }

        public async ValueTask DisposeAsync()
        {
            await Server.DisposeAsync();
            Client.Dispose();
            await Listener.DisposeAsync();
        }

        public void Dispose() => Client.Dispose();
    }
}
