using System.Net;
using System.Text;

namespace ChatWire.Client.Tests.Infrastructure;

// Serves fixed answers for (method, path) pairs and records every request. A stand-in for the HTTP API
// in unit tests of the SDK's mapping and the CLI's name resolution; the end-to-end tests run the real
// gateway (tests/ChatWire.Gateway.Tests).
internal sealed class CannedHttpHandler : HttpMessageHandler
{
    private readonly Dictionary<(string Method, string PathAndQuery), Func<HttpResponseMessage>> _answers = [];

    public List<RecordedRequest> Requests { get; } = [];

    public CannedHttpHandler Json(HttpMethod method, string pathAndQuery, string json, HttpStatusCode status = HttpStatusCode.OK)
    {
        _answers[(method.Method, pathAndQuery)] = () => new HttpResponseMessage(status)
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        return this;
    }

    public CannedHttpHandler NoContent(HttpMethod method, string pathAndQuery)
    {
        _answers[(method.Method, pathAndQuery)] = () => new HttpResponseMessage(HttpStatusCode.NoContent);
        return this;
    }

    public CannedHttpHandler Answer(HttpMethod method, string pathAndQuery, Func<HttpResponseMessage> answer)
    {
        _answers[(method.Method, pathAndQuery)] = answer;
        return this;
    }

    public CannedHttpHandler Problem(HttpMethod method, string pathAndQuery, HttpStatusCode status, int code, string name, string detail)
    {
        var body = $$"""{"type":"urn:chatwire:error:{{name}}","title":"t","status":{{(int)status}},"detail":"{{detail}}","code":{{code}},"name":"{{name}}"}""";
        _answers[(method.Method, pathAndQuery)] = () => new HttpResponseMessage(status)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/problem+json"),
        };
        return this;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
        var pathAndQuery = request.RequestUri!.PathAndQuery;
        Requests.Add(new RecordedRequest(request.Method.Method, pathAndQuery, request.Headers.Authorization?.ToString(), body));
        return _answers.TryGetValue((request.Method.Method, pathAndQuery), out var answer)
            ? answer()
            : new HttpResponseMessage(HttpStatusCode.NotFound) { Content = new StringContent($"no canned answer for {request.Method} {pathAndQuery}") };
    }
}

internal sealed record RecordedRequest(string Method, string PathAndQuery, string? Authorization, string? Body);
