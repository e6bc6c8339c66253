namespace ChatWire.LoadHarness;

/// <summary>Prints the line <c>describe</c> returns once a second until disposed, then once more.</summary>
internal sealed class ProgressLine : IAsyncDisposable
{
    private readonly Func<string> _describe;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public ProgressLine(Func<string> describe)
    {
        _describe = describe;
        _loop = LoopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
        Console.WriteLine(_describe());
    }

    private async Task LoopAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                Console.WriteLine(_describe());
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
