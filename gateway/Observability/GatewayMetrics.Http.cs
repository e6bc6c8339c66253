using Prometheus;

namespace ChatWire.Gateway.Observability;

// The HTTP API and management listeners: requests by route template and status, and their durations.
internal sealed partial class GatewayMetrics
{
    private Counter _httpRequests = null!;
    private Histogram _httpDuration = null!;

    private void CreateHttpMetrics(MetricFactory factory)
    {
        _httpRequests = factory.CreateCounter(
            "chatwire_http_requests_total",
            "HTTP requests answered, by method, route template (\"unmatched\" when no route took it) and status code.",
            "method",
            "route",
            "status");
        _httpDuration = factory.CreateHistogram(
            "chatwire_http_request_duration_seconds",
            "HTTP request received to response finished, by method and route template.",
            new HistogramConfiguration { LabelNames = ["method", "route"], Buckets = LatencyBuckets });
    }

    public void HttpRequest(string method, string route, int status, double seconds)
    {
        var known = MethodLabel(method);
        _httpRequests.WithLabels(known, route, StatusText(status)).Inc();
        _httpDuration.WithLabels(known, route).Observe(seconds);
    }

    // A client may send any method name; only the standard ones become label values, or a scan could
    // create series without bound.
    private static string MethodLabel(string method) =>
        HttpMethods.IsGet(method) ? "GET"
        : HttpMethods.IsPost(method) ? "POST"
        : HttpMethods.IsPut(method) ? "PUT"
        : HttpMethods.IsPatch(method) ? "PATCH"
        : HttpMethods.IsDelete(method) ? "DELETE"
        : HttpMethods.IsHead(method) ? "HEAD"
        : HttpMethods.IsOptions(method) ? "OPTIONS"
        : "OTHER";

    // Status codes as label values without formatting one per request.
    private static string StatusText(int status) => status switch
    {
        200 => "200",
        201 => "201",
        204 => "204",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        409 => "409",
        429 => "429",
        500 => "500",
        503 => "503",
        _ => status.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
