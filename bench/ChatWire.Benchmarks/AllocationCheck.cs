extern alias gateway;

using System.Buffers;
using System.Globalization;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using gateway::ChatWire.Gateway.Admission;
using gateway::ChatWire.Gateway.Observability;
using MessagePack;

namespace ChatWire.Benchmarks;

/// <summary>
/// <c>--check-allocations</c>: runs each zero-allocation hot path many times after a warm-up and compares
/// the bytes this thread allocated against allocation-budgets.json. Fast enough for the test script,
/// unlike a BenchmarkDotNet run; it measures allocation only, never time.
/// </summary>
internal static class AllocationCheck
{
    public const string BudgetsFileName = "allocation-budgets.json";

    public static int Run(string budgetsPath)
    {
        AllocationBudgets budgets;
        try
        {
            budgets = AllocationBudgets.Load(budgetsPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException or System.Text.Json.JsonException)
        {
            Console.Error.WriteLine($"Cannot read the allocation budgets: {ex.Message}");
            return 2;
        }

        using var workloads = new AllocationWorkloads();
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"Allocation budgets from {budgetsPath}: {budgets.Iterations:N0} operations each after {budgets.WarmupIterations:N0} warm-up."));

        var passed = 0;
        var failed = 0;
        foreach (var budget in budgets.Budgets)
        {
            if (!AllocationWorkloads.Names.Contains(budget.Name))
            {
                Console.WriteLine($"FAIL  {budget.Name,-26} no such workload (known: {string.Join(", ", AllocationWorkloads.Names)})");
                failed++;
                continue;
            }

            workloads.Run(budget.Name, budgets.WarmupIterations);

            // The least of three rounds: an allocation made once (the runtime promoting a method to its
            // optimized tier in the middle of a round, say) shows in one round, while a real per-operation
            // allocation shows in every round and still fails the budget.
            var allocated = long.MaxValue;
            for (var round = 0; round < 3 && allocated > budget.MaxBytesPerOperation * budgets.Iterations; round++)
            {
                var before = GC.GetAllocatedBytesForCurrentThread();
                workloads.Run(budget.Name, budgets.Iterations);
                allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
            }

            var perOperation = (double)allocated / budgets.Iterations;
            var pass = allocated <= budget.MaxBytesPerOperation * budgets.Iterations;
            passed += pass ? 1 : 0;
            failed += pass ? 0 : 1;
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{(pass ? "PASS" : "FAIL")}  {budget.Name,-26} {perOperation,8:0.##} B/op (budget {budget.MaxBytesPerOperation:0.##} B/op, {allocated:N0} B in total)  {budget.Description}"));
        }

        foreach (var name in AllocationWorkloads.Names.Where(n => !budgets.Budgets.Any(b => b.Name == n)))
        {
            Console.WriteLine($"FAIL  {name,-26} has no budget in {BudgetsFileName}");
            failed++;
        }

        Console.WriteLine($"{passed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>The workloads the budgets name; each runs one operation per iteration on state built once.</summary>
    private sealed class AllocationWorkloads : IDisposable
    {
        public static readonly string[] Names = ["write-send", "write-event", "write-send-ack", "decode-send", "read-frame", "read-frame-multi-segment", "decode-ping", "membership-hit", "delivery-latency", "noise-record", "dispatch-ping", "dispatch-typing", "event-delivery", "api-budget-charge"];

        private readonly ArrayBufferWriter<byte> _output = new(4 * 1024);
        private readonly Send _send = SampleFrames.Send();
        private readonly EventFrame _message = SampleFrames.Message();
        private readonly SendAck _sendAck = new(42, SampleFrames.ConversationId, SampleFrames.MessageId, 1_234, 1_764_000_000_000);
        private readonly ReadOnlySequence<byte> _sendBody = SampleFrames.Body(SampleFrames.Send());
        private readonly ReadOnlySequence<byte> _pingBody = SampleFrames.Body(new Ping(7));
        private readonly ReadOnlySequence<byte> _singleSegment;
        private readonly ReadOnlySequence<byte> _multiSegment;
        private readonly MembershipFixture _membership = new();
        private readonly byte[] _event = FrameCodec.ToArray(SampleFrames.Message());
        private readonly GatewayMetrics _metrics = new();
        private readonly NoiseBenchmarks _noise = new();
        private readonly KeyBudget _budget = new("account", 1200, TimeProvider.System);
        private readonly string[] _budgetKeys = Enumerable.Range(0, 100).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
        private GatewayWorkloads? _gateway;

        public AllocationWorkloads()
        {
            var stream = SampleFrames.SendStream();
            _singleSegment = new ReadOnlySequence<byte>(stream);
            _multiSegment = BufferSegment.Split(stream, SampleFrames.SegmentSize);
            _noise.Setup();
        }

        public void Dispose()
        {
            _noise.Dispose();
            _budget.Dispose();
            _gateway?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        // Started on first use: the whole gateway in process, with 100 authenticated connections.
        private GatewayWorkloads Gateway => _gateway ??= GatewayWorkloads.StartAsync().GetAwaiter().GetResult();

        public void Run(string name, int iterations)
        {
            switch (name)
            {
                case "write-send":
                    Write(_send, iterations);
                    break;
                case "write-event":
                    Write(_message, iterations);
                    break;
                case "write-send-ack":
                    Write(_sendAck, iterations);
                    break;
                case "decode-send":
                    DecodeSend(iterations);
                    break;
                case "read-frame":
                    ReadFrames(_singleSegment, iterations);
                    break;
                case "read-frame-multi-segment":
                    ReadFrames(_multiSegment, iterations);
                    break;
                case "decode-ping":
                    DecodePing(iterations);
                    break;
                case "membership-hit":
                    CheckMembership(iterations);
                    break;
                case "api-budget-charge":
                    ChargeBudget(iterations);
                    break;
                case "delivery-latency":
                    ObserveDeliveryLatency(iterations);
                    break;
                case "noise-record":
                    for (var i = 0; i < iterations; i++)
                    {
                        _noise.NoiseRecord1KiB();
                    }

                    break;
                case "dispatch-ping":
                    Gateway.DispatchPing(iterations);
                    break;
                case "dispatch-typing":
                    Gateway.DispatchTyping(iterations);
                    break;
                case "event-delivery":
                    Gateway.DeliverEvent(iterations);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown workload.");
            }
        }

        // One operation is one frame; the stream starts over when it runs out.
        private static void ReadFrames(ReadOnlySequence<byte> stream, int iterations)
        {
            var buffer = stream;
            var read = 0;
            while (read < iterations)
            {
                if (FrameReader.TryReadFrame(ref buffer, ProtocolLimits.DefaultMaxFrameLength, out _))
                {
                    read++;
                }
                else
                {
                    buffer = stream;
                }
            }
        }

        // One operation is one check of a cached (conversation, user) pair, cycling through the fixture's pairs.
        // The directory must not be asked: that would be the miss path, not the hit path the budget is for.
        // What every /v1/ request pays for its budget: one charge of a key already known.
        private void ChargeBudget(int iterations)
        {
            for (var i = 0; i < iterations; i++)
            {
                _budget.Take(_budgetKeys[i % _budgetKeys.Length]);
            }
        }

        private void CheckMembership(int iterations)
        {
            var directoryCalls = _membership.DirectoryCalls;
            for (var i = 0; i < iterations; i++)
            {
                if (!_membership.MaySend(i % MembershipFixture.Keys))
                {
                    throw new InvalidOperationException("A cached member was refused.");
                }
            }

            if (_membership.DirectoryCalls != directoryCalls)
            {
                throw new InvalidOperationException("The membership check reached the directory: it measured misses, not hits.");
            }
        }

        // What the fan-out does once per event and node: the EVENT's server time read in place, and observed.
        private void ObserveDeliveryLatency(int iterations)
        {
            for (var i = 0; i < iterations; i++)
            {
                if (!EventTiming.TryReadServerTime(_event, out var storedAt))
                {
                    throw new InvalidOperationException("The sample EVENT's server time could not be read.");
                }

                _metrics.DeliveryLatency.Observe((1_764_000_000_500 - storedAt) / 1000.0);
            }
        }

        // A frame written into the reused buffer: a client's SEND, the EVENT as the publisher serializes it once per
        // event, and the SEND_ACK every SEND is answered with.
        private void Write<T>(in T frame, int iterations)
            where T : struct, IFrame<T>
        {
            for (var i = 0; i < iterations; i++)
            {
                _output.ResetWrittenCount();
                FrameCodec.Write(_output, frame);
            }
        }

        // What must outlive the receive buffer is copied: the content (the store keeps it). The content type
        // (text/plain here) is one of the common ones the decoder does not allocate a string for.
        private void DecodeSend(int iterations)
        {
            for (var i = 0; i < iterations; i++)
            {
                var reader = new MessagePackReader(_sendBody);
                var header = FrameCodec.ReadHeader(ref reader);
                _ = FrameCodec.ReadBody<Send>(ref reader, header, ProtocolLimits.Default);
            }
        }

        private void DecodePing(int iterations)
        {
            for (var i = 0; i < iterations; i++)
            {
                var reader = new MessagePackReader(_pingBody);
                var header = FrameCodec.ReadHeader(ref reader);
                _ = FrameCodec.ReadBody<Ping>(ref reader, header, ProtocolLimits.Default);
            }
        }
    }
}
