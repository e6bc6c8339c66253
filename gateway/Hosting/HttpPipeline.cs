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
        // HeadAsGet showed routing a GET; from here on (routing is done) the request is a HEAD again, so a result that
        // would stream a body (a blob) does not read it only for Kestrel to drop it.
        app.Use(static (context, next) =>
        {
            if (context.Items.ContainsKey(HeadItem))
            {
                context.Request.Method = HttpMethods.Head;
            }

            return next(context);
        });

        // From configured reverse proxies only, X-Forwarded-For names the client that throttles count.
        var options = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<GatewayOptions>>().Value;
        var proxies = options.TrustedProxies;
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

        var metrics = app.Services.GetRequiredService<GatewayMetrics>();
        metrics.ObserveRuntime(app.Services.GetRequiredService<ConnectionRegistry>());
        var audit = app.Services.GetRequiredService<AuditLog>();
        app.Use((context, next) => CountAsync(context, next, metrics, audit));

        // HSTS (RFC 6797) on every answer given over HTTPS (Gateway:HttpTls, or a trusted proxy's X-Forwarded-Proto):
        // a browser or client that saw it once never again talks plain HTTP to this host for a year. Over plain
        // HTTP the header means nothing and is not sent. Set as the headers go out, so an error answer, which starts
        // from a cleared response, carries it too.
        app.Use((context, next) =>
        {
            if (context.Request.IsHttps)
            {
                context.Response.OnStarting(static state =>
                {
                    ((HttpResponse)state).Headers.StrictTransportSecurity = "max-age=31536000";
                    return Task.CompletedTask;
                }, context.Response);
            }

            return next(context);
        });
        app.UseMiddleware<ProblemDetailsMiddleware>();

        // /metrics, /health and the operator's /admin live on the management listener only; the API listener never
        // serves them.
        app.Use(async (context, next) =>
        {
            var listener = context.Features.Get<IConnectionItemsFeature>()?.Items[ListenerEndpoints.ListenerItem] as string;
            var path = context.Request.Path;
            var isManagementPath = path.StartsWithSegments("/metrics") || path.StartsWithSegments("/health") || path.StartsWithSegments("/ready")
                || path.StartsWithSegments("/debug") || path.StartsWithSegments("/admin");
            if ((listener == "management") != isManagementPath)
            {
                throw new RequestRefusedException(ErrorCode.NotFound, "No such endpoint on this listener.");
            }

            await next(context);
        });

        // Before the session check and the request budget: a browser's preflight carries neither a token nor a body.
        // CORS answers every preflight itself (an allowed origin's with its lists, any other's without): charged first.
        if (options.CorsOrigins.Length > 0)
        {
            app.Use(Api.ApiRequestBudget.ChargePreflightAsync);
        }

        HttpCors.Use(app, options.CorsOrigins);
        app.Use(Api.ApiRequestBudget.ChargeAnonymousAsync);
        app.Use(Api.AccountRequestGate.InvokeAsync);
        app.Use(Api.ConversationKeyEndpoints.RaiseUploadLimitAsync);

        app.MapGet("/metrics", async (HttpContext context) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
        }).ExcludeFromDescription();

        // Tells the truth about the listeners: a failed accept loop is "failing" (503), and the process is
        // already stopping with a non-zero exit code so that its supervisor restarts it. The process id lets a
        // supervisor that started the process on a port it chose know that this process answered, not another.
        app.MapGet("/health", (ListenerHealth health, ConnectionBudget budget) =>
        {
            var connections = new { open = budget.Open, budget = budget.Total, open_file_limit = budget.OpenFileLimit };
            var pid = Environment.ProcessId;
            return health.IsHealthy
                ? Results.Json(new { status = "ok", pid, connections })
                : Results.Json(new { status = "failing", pid, failed_listeners = health.Failures, connections }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }).ExcludeFromDescription();

        // Whether to send this node traffic: not while draining, not with a dead listener or a backend that does
        // not answer. A load balancer polls it; /health stays 200 during a drain (the process is alive).
        app.MapGet("/ready", async (ReadinessProbe probe, CancellationToken cancellationToken) =>
        {
            var readiness = await probe.CheckAsync(cancellationToken);
            var body = new
            {
                status = readiness.Ready ? "ready" : readiness.Draining ? "draining" : "not_ready",
                listeners = readiness.ListenersOpen ? "open" : "failing",
                backends = readiness.Backends.ToDictionary(
                    b => b.Backend,
                    b => new { status = b.Ok ? "ok" : "failing", duration_ms = Math.Round(b.Seconds * 1000, 1), error = b.Error }),
            };
            return Results.Json(body, statusCode: readiness.Ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        }).ExcludeFromDescription();

        // Forcing full GCs is a way to stall the server, so the endpoint exists only when configured.
        if (options.EnableDebugEndpoints)
        {
            MapDebugMemory(app);
        }

        Admin.AdminEndpoints.Map(app);
        app.MapOpenApi();
        MapApi(app);
    }

    /// <summary>Marks a HEAD request that <see cref="HeadAsGet"/> showed routing as a GET, to be a HEAD again after it.</summary>
    internal const string HeadItem = "chatwire.head";

    /// <summary>
    /// HEAD is answered as GET would be, headers and status alike, without the body (RFC 9110 §9.3.2): the method is
    /// GET for routing (which WebApplication runs ahead of the pipeline above, so this comes in as a startup filter)
    /// and HEAD again once the endpoint is chosen (<see cref="Map"/>); Kestrel, which parsed the request as HEAD,
    /// writes no body either way.
    /// </summary>
    internal sealed class HeadAsGet : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(static async (context, following) =>
            {
                if (!HttpMethods.IsHead(context.Request.Method))
                {
                    await following(context);
                    return;
                }

                context.Items[HeadItem] = true;
                context.Request.Method = HttpMethods.Get;
                await following(context);
            });
            next(app);
        };
    }

    // Outermost after the method is HEAD again, so it sees the status the problem+json middleware settled on. The route
    // is the matched endpoint's template (routing runs before this middleware), never the path: ids stay out of labels.
    private static async Task CountAsync(HttpContext context, RequestDelegate next, GatewayMetrics metrics, AuditLog audit)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            metrics.HttpRequest(context.Request.Method, route, context.Response.StatusCode, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
            if (context.Items.TryGetValue(ProblemDetailsMiddleware.ErrorCodeItem, out var code) && code is ErrorCode answered)
            {
                metrics.HttpError(answered);
                if (answered == ErrorCode.RateLimited)
                {
                    audit.RateLimited(route, context.ClientAddress());
                }
            }
        }
    }

    // For load tests (bench/ChatWire.LoadHarness): a blocking compacting GC, then an aggressive one (which also
    // gives the GC's free memory back to the system), then the retained managed heap, the memory the GC still has
    // committed (live objects, free space it keeps, pinned blocks it cannot move) and the process RSS, so memory per
    // connection can be read as a slope between counts without the GC's slack of the moment. The JIT's counts say
    // whether code was still being compiled between two readings (compiled code and the JIT's own memory are RSS
    // outside the managed heap, paid once, not per connection).
    private static void MapDebugMemory(WebApplication app) =>
        app.MapPost("/debug/memory", (ConnectionRegistry registry) =>
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            using var process = System.Diagnostics.Process.GetCurrentProcess();
            return Results.Json(new
            {
                connections = registry.Count,
                managed_bytes = GC.GetTotalMemory(forceFullCollection: false),
                gc_committed_bytes = GC.GetGCMemoryInfo().TotalCommittedBytes,
                rss_bytes = process.WorkingSet64,
                sqlite_bytes = ChatWire.Storage.Sqlite.SqliteStorage.NativeMemoryBytes,
                gc_server = System.Runtime.GCSettings.IsServerGC,
                jit_methods = System.Runtime.JitInfo.GetCompiledMethodCount(),
                jit_il_bytes = System.Runtime.JitInfo.GetCompiledILBytes(),
            });
        }).ExcludeFromDescription();

    private static void MapApi(WebApplication app)
    {
        app.Use(ApiAuthentication.RequireSessionAsync);

        // After the session check, which comes before anything else (docs/http-api.md, "Authentication"); on every
        // path, the management listener's too.
        app.Use(RawPath.RefuseDotSegmentsAsync);
        app.Use(RequestLimits.CheckBodyAsync);
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
