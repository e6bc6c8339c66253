namespace ChatWire.Client.Tests.Infrastructure;

// A pass-through transport: every request goes to the real server over a real socket, unchanged, and is
// written down on the way, so a test can also say what the SDK or the CLI asked (a bearer token, a field
// left out, no request at all). It answers nothing itself.
internal sealed class RecordingHandler() : DelegatingHandler(new SocketsHttpHandler())
{
    private readonly Lock _lock = new();
    private readonly List<RecordedRequest> _requests = [];

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_lock)
            {
                return [.. _requests];
            }
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
        lock (_lock)
        {
            _requests.Add(new RecordedRequest(request.Method.Method, request.RequestUri!.PathAndQuery, request.Headers.Authorization?.ToString(), body));
        }

        return await base.SendAsync(request, cancellationToken);
    }
}

internal sealed record RecordedRequest(string Method, string PathAndQuery, string? Authorization, string? Body);
