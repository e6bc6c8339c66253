using BenchmarkDotNet.Attributes;
using ChatWire.Storage.Messages;
using ChatWire.Storage.Sqlite;

namespace ChatWire.Benchmarks;

/// <summary>
/// The shared group-commit writer (<see cref="GroupCommitWriter"/>, behind <see cref="SqliteMessageStore"/>)
/// appending <see cref="Batch"/> messages queued at once into an embedded SQLite store in a temp directory
/// (WAL, synchronous=FULL as the gateway runs it), each awaited until durable. Figures are per append
/// only after dividing by <see cref="Batch"/> (a parameter cannot set OperationsPerInvoke): rows/s is
/// Batch ÷ Mean; Allocated counts every thread,
/// the writer's included. Messages go to 64 conversations in turn, 200 bytes of content each.
/// </summary>
[MemoryDiagnoser]
[ShortRunJob]
public class GroupCommitBenchmarks
{
    private const int MaxBatch = 256;

    private string _directory = null!;
    private SqliteMessageStore _store = null!;
    private readonly Task<AppendResult>[] _commits = new Task<AppendResult>[MaxBatch];
    private readonly Guid[] _conversations = Enumerable.Range(0, 64).Select(_ => Guid.CreateVersion7()).ToArray();
    private readonly Guid _user = Guid.CreateVersion7();
    private readonly Guid _device = Guid.CreateVersion7();
    private readonly byte[] _content = new byte[SampleFrames.ContentLength];
    private int _next;

    [Params(1, 16, MaxBatch)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "chatwire-bench-" + Guid.NewGuid().ToString("N"));
        var paths = SqliteStorage.PrepareDataDirectory(_directory);
        _store = SqliteMessageStore.OpenAsync(paths.MessagesDatabase).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark]
    public async Task<ulong> AppendBatch()
    {
        for (var i = 0; i < Batch; i++)
        {
            var conversation = _conversations[_next++ % _conversations.Length];
            _commits[i] = await _store.EnqueueAsync(new NewEvent(conversation, Guid.CreateVersion7(), EventKind.Message, _user, _device, SampleFrames.ContentType, _content));
        }

        var last = 0UL;
        for (var i = 0; i < Batch; i++)
        {
            var result = await _commits[i];
            last = result.Event?.Seq ?? throw new InvalidOperationException($"Append refused: {result.Outcome} {result.Refusal}.");
        }

        return last;
    }
}
