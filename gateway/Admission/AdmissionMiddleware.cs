using System.Buffers;
using System.Globalization;
using System.Net;
using System.Text;
using ChatWire.Gateway.Observability;
using ChatWire.Gateway.Transport;
using ChatWire.Protocol;
using ChatWire.Protocol.Frames;
using Microsoft.AspNetCore.Connections;

namespace ChatWire.Gateway.Admission;

/// <summary>
/// The first connection middleware of every listener, ahead of TLS: checks the listener's cap and the
/// client address's cap, refuses with what the listener's peers understand, and gives back the slots
/// (the process budget's too, taken at accept) when the connection ends.
/// </summary>
internal sealed class AdmissionMiddleware(ConnectionBudget budget, GatewayMetrics metrics, ILogger<AdmissionMiddleware> logger)
{
    private static readonly byte[] HttpRefusal = BuildHttpRefusal(1);

    private long _lastRefusalLogged;
    private long _refusedSinceLog;

    public ConnectionDelegate For(ListenerKind listener, ConnectionDelegate next) => context => Run(context, listener, next);

    /// <summary>
    /// Gives back a lean connection's slots, called once when its transport has disposed it: the process slot, and
    /// the listener's and address's when it was admitted.
    /// </summary>
    public void Release(ConnectionContext context, ListenerKind listener, bool admitted)
    {
        try
        {
            if (admitted)
            {
                budget.Release(listener, (context.RemoteEndPoint as IPEndPoint)?.Address);
            }
        }
        finally
        {
            budget.ReleaseSlot();
        }
    }

    private Task Run(ConnectionContext context, ListenerKind listener, ConnectionDelegate next)
    {
        if (context is not LeanConnection lean)
        {
            return RunAsync(context, listener, next);
        }

        // On the lean transport the connection gives its slots back when it is disposed, so nothing waits here
        // for each connection's whole life (an idle connection would carry this method's suspended state).
        var address = (context.RemoteEndPoint as IPEndPoint)?.Address;
        string? reason;
        uint retryAfterMs;
        try
        {
            reason = budget.TryAdmit(listener, address, out retryAfterMs);
        }
        catch
        {
            budget.ReleaseSlot();
            throw;
        }

        // Either way the process slot goes back only when the connection is disposed, after its socket is closed:
        // a refused connection may still be sending its ERROR for a moment, and its descriptor is still open.
        if (reason is not null)
        {
            lean.ReleaseOnDispose(this, listener, admitted: false);
            Refused(address, reason);
            return RefuseAsync(context, listener, reason, retryAfterMs);
        }

        lean.ReleaseOnDispose(this, listener, admitted: true);
        return next(context);
    }

    private async Task RunAsync(ConnectionContext context, ListenerKind listener, ConnectionDelegate next)
    {
        try
        {
            var address = (context.RemoteEndPoint as IPEndPoint)?.Address;
            if (budget.TryAdmit(listener, address, out var retryAfterMs) is { } reason)
            {
                Refused(address, reason);
                await RefuseAsync(context, listener, reason, retryAfterMs);
                return;
            }

            try
            {
                await next(context);
            }
            finally
            {
                budget.Release(listener, address);
            }
        }
        finally
        {
            budget.ReleaseSlot();
        }
    }

    // Protocol peers get ERROR TOO_MANY_CONNECTIONS (docs/protocol.md §3.2), with retry_after_ms when the address
    // is over its rate of new connections; HTTP peers a 503 problem with Retry-After; a TLS or Noise peer nothing:
    // no handshake has happened, so the connection just closes.
    private static async Task RefuseAsync(ConnectionContext context, ListenerKind listener, string reason, uint retryAfterMs)
    {
        var output = context.Transport.Output;
        switch (listener)
        {
            case ListenerKind.Tcp:
                var message = retryAfterMs > 0
                    ? $"Connection refused: {reason}; retry after retry_after_ms."
                    : $"Connection refused: {reason}.";
                FrameCodec.Write(output, new ErrorFrame(0, ErrorCode.TooManyConnections, message, retryAfterMs));
                break;
            case ListenerKind.Http or ListenerKind.Management:
                // Retry-After counts whole seconds: rounded up, at least 1.
                var seconds = (int)Math.Max(1, (retryAfterMs + 999L) / 1000);
                output.Write(seconds > 1 ? BuildHttpRefusal(seconds) : HttpRefusal);
                break;
            default:
                return;
        }

        await output.FlushAsync();
    }

    private void Refused(IPAddress? address, string reason)
    {
        metrics.Rejected.WithLabels(reason).Inc();
        metrics.Error(ErrorCode.TooManyConnections);

        // A flood would otherwise write a line per connection: one line, then a count every 10 s.
        var refused = Interlocked.Increment(ref _refusedSinceLog);
        var now = Environment.TickCount64;
        var last = Volatile.Read(ref _lastRefusalLogged);
        if ((last == 0 || now - last > 10_000) && Interlocked.CompareExchange(ref _lastRefusalLogged, now, last) == last)
        {
            Interlocked.Exchange(ref _refusedSinceLog, 0);
            GatewayLog.ConnectionRefused(logger, address?.ToString(), reason, refused);
        }
    }

    private static byte[] BuildHttpRefusal(int retryAfterSeconds)
    {
        const string Body = """{"type":"urn:chatwire:error:TOO_MANY_CONNECTIONS","title":"Too many connections","status":503,"detail":"The server or this client address holds or opens too many connections; retry after the seconds in Retry-After.","code":3003,"name":"TOO_MANY_CONNECTIONS"}""";
        return Encoding.ASCII.GetBytes(
            string.Create(CultureInfo.InvariantCulture, $"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nRetry-After: {retryAfterSeconds}\r\nConnection: close\r\n")
            + $"Content-Length: {Body.Length}\r\n\r\n{Body}");
    }
}
