using System.Collections.Concurrent;
using System.Net;

namespace ChatWire.Gateway.Admission;

/// <summary>
/// Whether every listener still accepts connections. Kestrel's accept loop ends for good on an exception
/// it does not expect (and only logs it), which would leave a live process with a dead port. A failure is
/// recorded here, <c>/health</c> reports it, and the host stops with <see cref="ExitCode"/> 3 so that a
/// supervisor restarts it.
/// </summary>
internal sealed class ListenerHealth(IHostApplicationLifetime lifetime, ILogger<ListenerHealth> logger)
{
    /// <summary>The process exit code after a listener failed.</summary>
    public const int ListenerFailedExitCode = 3;

    private readonly ConcurrentDictionary<string, string> _failures = new();

    public bool IsHealthy => _failures.IsEmpty;

    /// <summary>Each failed listener's endpoint, with why.</summary>
    public IReadOnlyDictionary<string, string> Failures => _failures;

    public int ExitCode => IsHealthy ? 0 : ListenerFailedExitCode;

    public void ListenerFailed(EndPoint endpoint, Exception exception)
    {
        _failures[endpoint.ToString() ?? "?"] = exception.GetType().Name;
        GatewayLog.ListenerFailed(logger, endpoint.ToString() ?? "?", exception);
        lifetime.StopApplication();
    }
}
