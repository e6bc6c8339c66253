using Microsoft.Extensions.Logging;

namespace ChatWire.Client.Tests.Infrastructure;

/// <summary>
/// A logger provider that writes every line a server logs to a file, with the structured values (the template's
/// arguments) and exceptions spelled out, so that the log can be scanned like the server's other files.
/// Each line is flushed as it is written: a scan while the server runs reads what was logged so far.
/// </summary>
internal sealed class FileLogSink : ILoggerProvider
{
    private readonly Lock _gate = new();
    private StreamWriter? _writer;

    public FileLogSink(string path)
    {
        Path = path;
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete)) { AutoFlush = true };
    }

    public string Path { get; }

    public long Lines { get; private set; }

    public ILogger CreateLogger(string categoryName) => new FileLogger(this, categoryName);

    public void Dispose()
    {
        lock (_gate)
        {
            _writer?.Dispose();
            _writer = null;
        }
    }

    private void Write(string line)
    {
        lock (_gate)
        {
            // After the server disposed its logger factory (and with it this provider), lines are dropped.
            if (_writer is not null)
            {
                _writer.WriteLine(line);
                Lines++;
            }
        }
    }

    private sealed class FileLogger(FileLogSink sink, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull
        {
            sink.Write($"scope {category}: {Values(state)}");
            return null;
        }

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            sink.Write($"{logLevel} {category}[{eventId.Id}] {formatter(state, exception)} | {Values(state)}{(exception is null ? "" : " | " + exception)}");
        }

        private static string Values<TState>(TState state) => state is IEnumerable<KeyValuePair<string, object?>> values
            ? string.Join(", ", values.Select(v => $"{v.Key}={Show(v.Value)}"))
            : state?.ToString() ?? "";

        // Bytes as a JSON log would write them (base64), not as "System.Byte[]".
        private static string? Show(object? value) => value switch
        {
            byte[] bytes => Convert.ToBase64String(bytes),
            ReadOnlyMemory<byte> memory => Convert.ToBase64String(memory.Span),
            Memory<byte> memory => Convert.ToBase64String(memory.Span),
            _ => value?.ToString(),
        };
    }
}
