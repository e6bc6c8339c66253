using ChatWire.Gateway.Admission;
using ChatWire.Gateway.Api;
using ChatWire.Gateway.Connections;
using ChatWire.Gateway.Observability;
using ChatWire.Protocol;
using Microsoft.AspNetCore.Connections.Features;

namespace ChatWire.Gateway.Hosting;

/// <summary>The HTTP side: problem+json errors, listener separation, management endpoints, the API under <c>/v1/</c>.</summary>
internal static class HttpPipeline
{
    public static void Map(WebApplication app)
    {
        // From configured reverse proxies only, X-Forwarded-For names the client that throttles count.
        var proxies = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<GatewayOptions>>().Value.TrustedProxies;
        if (proxies.Length > 0)
        {
            // No forward limit: the entries are walked from the right while the hop that added them is a
            // trusted proxy, so the client is the first untrusted address, however many proxies are chained.
            var forwarded = new ForwardedHeadersOptions
            {
                ForwardedHeaders = Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedFor,
                ForwardLimit = null,
            };
            forwarded.KnownIPNetworks.Clear();
            forwarded.KnownProxies.Clear();
            foreach (var proxy in proxies)
            {
                forwarded.KnownProxies.Add(System.Net.IPAddress.Parse(proxy));
            }

            app.UseForwardedHeaders(forwarded);
        }

        app.UseMiddleware<ProblemDetailsMiddleware>();

        // /metrics and /health live on the management listener only; the API listener never serves them.
        app.Use(async (context, next) =>
        {
            var listener = context.Features.Get<IConnectionItemsFeature>()?.Items[ListenerEndpoints.ListenerItem] as string;
            var path = context.Request.Path;
            var isManagementPath = path.StartsWithSegments("/metrics") || path.StartsWithSegments("/health") || path.StartsWithSegments("/debug");
            if ((listener == "management") != isManagementPath)
            {
                throw new RequestRefusedException(ErrorCode.NotFound, "No such endpoint on this listener.");
            }

            await next(context);
        });

        app.Use(Api.AccountRequestGate.InvokeAsync);
        app.Use(Api.ConversationKeyEndpoints.RaiseUploadLimitAsync);

        var metrics = app.Services.GetRequiredService<GatewayMetrics>();
        app.MapGet("/metrics", async (HttpContext context) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
        }).ExcludeFromDescription();

        // Tells the truth about the listeners: a failed accept loop is "failing" (503), and the process is
        // already stopping with a non-zero exit code so that its supervisor restarts it.
        app.MapGet("/health", (ListenerHealth health, ConnectionBudget budget) =>
        {
            var connections = new { open = budget.Open, budget = budget.Total, open_file_limit = budget.OpenFileLimit };
            return health.IsHealthy
                ? Results.Json(new { status = "ok", connections })
                : Results.Json(new { status = "failing", failed_listeners = health.Failures, connections }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }).ExcludeFromDescription();

        // Forcing full GCs is a way to stall the server, so the endpoint exists only when configured.
        if (app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<GatewayOptions>>().Value.EnableDebugEndpoints)
        {
            MapDebugMemory(app);
        }

        app.MapOpenApi();
        MapApi(app);
    }

    // For load tests (bench/ChatWire.LoadHarness): a blocking compacting GC, then the retained managed heap
    // and the process RSS, so memory per connection can be read as a slope between two counts.
    private static void MapDebugMemory(WebApplication app) =>
        app.MapPost("/debug/memory", (ConnectionRegistry registry) =>
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            using var process = System.Diagnostics.Process.GetCurrentProcess();
            return Results.Json(new
            {
                connections = registry.Count,
                managed_bytes = GC.GetTotalMemory(forceFullCollection: false),
                rss_bytes = process.WorkingSet64,
                gc_server = System.Runtime.GCSettings.IsServerGC,
            });
        }).ExcludeFromDescription();

    private static void MapApi(WebApplication app)
    {
        app.Use(ApiAuthentication.RequireSessionAsync);
        var anonymous = app.MapGroup("/v1");
        var authenticated = app.MapGroup("/v1");
        ServerInfoEndpoints.Map(anonymous);
        AccountEndpoints.Map(anonymous, authenticated);
        TeamEndpoints.Map(authenticated);
        ConversationEndpoints.Map(authenticated);
        KeyEndpoints.Map(authenticated);
        ConversationKeyEndpoints.Map(authenticated);
        PushEndpoints.Map(authenticated);
        AttachmentEndpoints.Map(anonymous, authenticated, app.Services.GetService<Storage.Blobs.LocalBlobStore>() is not null);
    }
}
