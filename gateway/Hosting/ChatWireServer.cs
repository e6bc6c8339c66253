using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Api;
using ChatWire.Gateway.Delivery;
using ChatWire.Gateway.Observability;
using ChatWire.Gateway.Sessions;
using ChatWire.Protocol;
using ChatWire.Routing;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Messages;
using ChatWire.Storage.Sqlite;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Hosting;

/// <summary>
/// The composition root: one Kestrel host with the protocol listeners (plain and TLS), the HTTP API and the
/// management listener, over the embedded stores. <c>Program</c> runs it; tests start it in process on port 0.
/// </summary>
public sealed class ChatWireServer : IAsyncDisposable
{
    private readonly SqliteDirectoryStore _directory;
    private readonly SqliteMessageStore _messages;
    private int _disposed;

    private ChatWireServer(WebApplication app, SqliteDirectoryStore directory, SqliteMessageStore messages, string dataDirectory)
    {
        App = app;
        _directory = directory;
        _messages = messages;
        DataDirectory = dataDirectory;
    }

    public WebApplication App { get; }

    public string DataDirectory { get; }

    public ListenerEndpoints Endpoints => App.Services.GetRequiredService<ListenerEndpoints>();

    /// <summary>Builds the host from appsettings.json (next to the binary), <c>CHATWIRE_</c> environment variables, arguments and <paramref name="overrides"/>.</summary>
    public static async Task<ChatWireServer> CreateAsync(string[] args, IReadOnlyDictionary<string, string?>? overrides = null, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,

            // Configuration comes from the application's own directory, so gateway/appsettings.json applies
            // wherever the server is started; data goes under the working directory.
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddEnvironmentVariables("CHATWIRE_");
        builder.Configuration.AddCommandLine(args);
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        builder.Services.AddOptions<GatewayOptions>().Bind(builder.Configuration.GetSection(GatewayOptions.Section));
        builder.Services.AddOptions<AuthOptions>().Bind(builder.Configuration.GetSection(AuthOptions.Section));

        // Validated here, once, from the same configuration the options above bind: before touching the disk
        // or binding sockets, with every problem in one message.
        var gateway = builder.Configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions();
        var auth = builder.Configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();
        var failures = new List<string>();
        failures.AddRange(new GatewayOptionsValidation().Validate(null, gateway).Failures ?? []);
        failures.AddRange(new AuthOptionsValidation().Validate(null, auth).Failures ?? []);
        if (failures.Count > 0)
        {
            throw new OptionsValidationException("ChatWire", typeof(GatewayOptions), failures);
        }

        var dataDirectory = Path.GetFullPath(gateway.DataDirectory);
        var paths = SqliteStorage.PrepareDataDirectory(dataDirectory);
        var directory = await SqliteDirectoryStore.OpenAsync(paths.DirectoryDatabase, cancellationToken);
        var messages = await SqliteMessageStore.OpenAsync(paths.MessagesDatabase, cancellationToken: cancellationToken);

        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IDirectoryStore>(directory);
        services.AddSingleton<IMessageStore>(messages);
        services.AddSingleton<IMessageBus, InProcessMessageBus>();
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<PasswordHasher>();
        services.AddSingleton<AttemptThrottle>();
        services.AddSingleton<SessionAuthenticator>();
        services.AddSingleton<MembershipCache>();
        services.AddSingleton<DeliveryFanout>();
        services.AddSingleton<DirectoryEvents>();
        services.AddSingleton<MessagePipeline>();
        services.AddSingleton<SessionRegistry>();
        services.AddSingleton<SessionServices>();
        services.AddHostedService<ConnectionSweeper>();
        services.Configure<JsonOptions>(o => o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddOpenApi();

        var endpoints = new ListenerEndpoints();
        services.AddSingleton(endpoints);
        var certificate = LoadCertificate(gateway, dataDirectory, out var certificateCreated);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            if (EndpointParser.TryParse(gateway.TcpEndpoint, out var tcp))
            {
                kestrel.Listen(tcp, listen =>
                {
                    listen.UseConnectionHandler<ChatWireConnectionHandler>();
                    endpoints.Tcp = listen;
                });
            }

            if (certificate is not null && EndpointParser.TryParse(gateway.TlsEndpoint, out var tls))
            {
                kestrel.Listen(tls, listen =>
                {
                    listen.UseHttps(TlsOptions(certificate, gateway));
                    listen.UseConnectionHandler<ChatWireConnectionHandler>();
                    endpoints.Tls = listen;
                });
            }

            kestrel.Listen(EndpointParser.Parse(gateway.HttpEndpoint), listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                listen.Use(next => Tag(next, "api"));
                endpoints.Http = listen;
            });
            kestrel.Listen(EndpointParser.Parse(gateway.ManagementEndpoint), listen =>
            {
                listen.Use(next => Tag(next, "management"));
                endpoints.Management = listen;
            });
        });

        var app = builder.Build();
        var server = new ChatWireServer(app, directory, messages, dataDirectory);
        MapHttp(app);

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ChatWire");
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            GatewayLog.DataDirectory(logger, dataDirectory);
            if (certificateCreated)
            {
                GatewayLog.DevelopmentCertificateCreated(logger, Path.Combine(dataDirectory, DevelopmentCertificate.FileName));
            }

            Log("tcp", endpoints.TcpEndPoint, "chatwire");
            Log("tls", endpoints.TlsEndPoint, "chatwire+tls");
            Log("http", endpoints.HttpEndPoint, "http");
            Log("management", endpoints.ManagementEndPoint, "http");

            void Log(string name, System.Net.IPEndPoint? endPoint, string scheme)
            {
                if (endPoint is not null)
                {
                    GatewayLog.Listening(logger, name, $"{scheme}://{endPoint}");
                }
            }
        });

        app.Lifetime.ApplicationStopped.Register(() => GatewayLog.Stopped(logger));

        // Idle sessions would otherwise hold shutdown open until Kestrel's timeout: tell them and close.
        app.Lifetime.ApplicationStopping.Register(() => app.Services.GetRequiredService<SessionRegistry>().BeginShutdown());
        return server;
    }

    public Task StartAsync(CancellationToken cancellationToken = default) => App.StartAsync(cancellationToken);

    public Task RunAsync() => App.RunAsync();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await App.StopAsync();
        }
        catch (OperationCanceledException)
        {
        }

        await App.DisposeAsync();

        // The writer drains and commits what was queued before the files close.
        await _messages.DisposeAsync();
        _directory.Dispose();
    }

    private static void MapHttp(WebApplication app)
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
                throw new ApiException(ErrorCode.NotFound, "No such endpoint on this listener.");
            }

            await next(context);
        });

        var metrics = app.Services.GetRequiredService<GatewayMetrics>();
        app.MapGet("/metrics", async (HttpContext context) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.Registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
        });
        app.MapGet("/health", () => Results.Json(new { status = "ok" }));

        // For load tests (bench/ChatWire.LoadHarness): a blocking compacting GC, then the retained managed
        // heap and the process RSS, so memory per connection can be read as a slope between two counts.
        app.MapPost("/debug/memory", (SessionRegistry registry) =>
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
        });
        app.MapOpenApi();

        app.Use(ApiAuthentication.RequireSessionAsync);
        var anonymous = app.MapGroup("/v1");
        var authenticated = app.MapGroup("/v1");
        ServerInfoEndpoints.Map(anonymous);
        AccountEndpoints.Map(anonymous, authenticated);
        TeamEndpoints.Map(authenticated);
        ConversationEndpoints.Map(authenticated);
        app.MapFallback(context => throw new ApiException(ErrorCode.NotFound, "No such endpoint."));
    }

    private static ConnectionDelegate Tag(ConnectionDelegate next, string listener) => context =>
    {
        context.Items[ListenerEndpoints.ListenerItem] = listener;
        return next(context);
    };

    private static X509Certificate2? LoadCertificate(GatewayOptions options, string dataDirectory, out bool created)
    {
        created = false;
        if (string.IsNullOrEmpty(options.TlsEndpoint))
        {
            return null;
        }

        return string.IsNullOrEmpty(options.TlsCertificatePath)
            ? DevelopmentCertificate.LoadOrCreate(dataDirectory, out created)
            : X509CertificateLoader.LoadPkcs12FromFile(options.TlsCertificatePath, string.IsNullOrEmpty(options.TlsCertificatePassword) ? null : options.TlsCertificatePassword);
    }

    private static HttpsConnectionAdapterOptions TlsOptions(X509Certificate2 certificate, GatewayOptions options)
    {
        var https = new HttpsConnectionAdapterOptions
        {
            ServerCertificate = certificate,
            SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            HandshakeTimeout = TimeSpan.FromMilliseconds(options.TlsHandshakeTimeoutMs),
            ClientCertificateMode = ClientCertificateMode.NoCertificate,
        };
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            // TLS 1.2 only with ECDHE and AEAD ciphers (GCM, ChaCha20-Poly1305); TLS 1.3 suites are all AEAD.
            var policy = new CipherSuitesPolicy(
            [
                TlsCipherSuite.TLS_AES_128_GCM_SHA256,
                TlsCipherSuite.TLS_AES_256_GCM_SHA384,
                TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
                TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
            ]);
            https.OnAuthenticate = (_, ssl) => ssl.CipherSuitesPolicy = policy;
        }

        return https;
    }
}
