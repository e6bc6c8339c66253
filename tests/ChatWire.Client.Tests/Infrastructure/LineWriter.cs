using System.Text;
using System.Threading.Channels;

namespace ChatWire.Client.Tests.Infrastructure;

// A stdout a test can read line by line while the CLI is still running (listen).
internal sealed class LineWriter : TextWriter
{
    private readonly StringBuilder _partial = new();
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly Lock _lock = new();

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        lock (_lock)
        {
            if (value == '\n')
            {
                _lines.Writer.TryWrite(_partial.ToString().TrimEnd('\r'));
                _partial.Clear();
            }
            else
            {
                _partial.Append(value);
            }
        }
    }

    public async Task<string> NextLineAsync()
    {
        using var timeout = new CancellationTokenSource(Patience.Default);
        return await _lines.Reader.ReadAsync(timeout.Token);
    }

    // Lines written so far and not yet read.
    public List<string> Remaining()
    {
        var lines = new List<string>();
        while (_lines.Reader.TryRead(out var line))
        {
            lines.Add(line);
        }

        return lines;
    }
}
