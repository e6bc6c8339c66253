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

        var metrics = app.Services.GetRequiredService<GatewayMetrics>();
        app.MapGet("/metrics", async (HttpContext context) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
        }).ExcludeFromDescription();
        app.MapGet("/health", () => Results.Json(new { status = "ok" })).ExcludeFromDescription();

        // For load tests (bench/ChatWire.LoadHarness): a blocking compacting GC, then the retained managed
        // heap and the process RSS, so memory per connection can be read as a slope between two counts.
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
        app.MapOpenApi();

        app.Use(ApiAuthentication.RequireSessionAsync);
        var anonymous = app.MapGroup("/v1");
        var authenticated = app.MapGroup("/v1");
        ServerInfoEndpoints.Map(anonymous);
        AccountEndpoints.Map(anonymous, authenticated);
        TeamEndpoints.Map(authenticated);
        ConversationEndpoints.Map(authenticated);
    }

}
