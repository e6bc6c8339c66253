using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Hosting;

/// <summary>
/// The composition root: one Kestrel host with the protocol listeners (plain and TLS), the HTTP API and the
/// management listener, over the adapters configuration picks (<see cref="ServiceComposition"/>).
/// <c>Program</c> runs it; tests start it in process on port 0.
/// </summary>
public sealed class ChatWireServer : IAsyncDisposable
{
    private readonly ChatWireStorage _storage;
    private int _disposed;

    private readonly StackExchange.Redis.IConnectionMultiplexer? _redis;

    // Resolved while the host lives: RunAsync disposes the host (and its services) before it returns.
    private readonly Admission.ListenerHealth _health;

    private ChatWireServer(WebApplication app, ChatWireStorage storage, StackExchange.Redis.IConnectionMultiplexer? redis, string dataDirectory)
    {
        App = app;
        _storage = storage;
        _redis = redis;
        _health = app.Services.GetRequiredService<Admission.ListenerHealth>();
        DataDirectory = dataDirectory;
    }

    private static readonly Dictionary<string, string?> LoggingDefaults = new()
    {
        ["Logging:Console:FormatterName"] = "simple",
        ["Logging:Console:FormatterOptions:TimestampFormat"] = "yyyy-MM-ddTHH:mm:ss.fffZ ",
        ["Logging:Console:FormatterOptions:UseUtcTimestamp"] = "true",
        ["Logging:Console:FormatterOptions:SingleLine"] = "true",

        // Kestrel opens a logging scope for every connection while its general category is enabled at any level,
        // and an idle connection keeps it (about 0.2 KB: docs/performance.md). That category's messages (the
        // slow-heartbeat warning, errors escaping the HTTP pipeline, which ChatWire's own middleware logs first)
        // are off unless configured; Kestrel's connection, bad-request and protocol categories stay at Warning.
        ["Logging:LogLevel:Microsoft.AspNetCore.Server.Kestrel"] = "None",
        ["Logging:LogLevel:Microsoft.AspNetCore.Server.Kestrel.BadRequests"] = "Warning",
        ["Logging:LogLevel:Microsoft.AspNetCore.Server.Kestrel.Connections"] = "Warning",
        ["Logging:LogLevel:Microsoft.AspNetCore.Server.Kestrel.Http2"] = "Warning",
        ["Logging:LogLevel:Microsoft.AspNetCore.Server.Kestrel.Http3"] = "Warning",
        ["Logging:LogLevel:Microsoft.AspNetCore.Server.Kestrel.Transport"] = "Warning",
        ["Logging:LogLevel:Microsoft.AspNetCore.Server.Kestrel.Core"] = "Warning",
    };

    public WebApplication App { get; }

    public string DataDirectory { get; }

    public ListenerEndpoints Endpoints => App.Services.GetRequiredService<ListenerEndpoints>();

    /// <summary>The Noise listener's current static public key (32 bytes); null when the Noise listener is off.</summary>
    public byte[]? NoiseStaticPublicKey => App.Services.GetService<Noise.NoiseServerKeys>()?.Current.PublicKey.ToArray();

    /// <summary>What the process should exit with once the host has stopped: 0, or 3 when a listener failed.</summary>
    public int ExitCode => _health.ExitCode;

    /// <summary>Builds the host from appsettings.json (next to the binary), <c>CHATWIRE_</c> environment variables, arguments and <paramref name="overrides"/>.</summary>
    public static Task<ChatWireServer> CreateAsync(string[] args, IReadOnlyDictionary<string, string?>? overrides = null, CancellationToken cancellationToken = default) =>
        CreateAsync(args, overrides, replaceServices: null, cancellationToken);

    /// <summary>
    /// <see cref="CreateAsync(string[], IReadOnlyDictionary{string, string}, CancellationToken)"/>, with
    /// <paramref name="replaceServices"/> run on the service collection last, before the host is built: for
    /// tests that need a component to fail in a way no configuration produces (a fault a handler did not expect).
    /// </summary>
    internal static async Task<ChatWireServer> CreateAsync(
        string[] args, IReadOnlyDictionary<string, string?>? overrides, Action<IServiceCollection>? replaceServices, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,

            // Configuration comes from the application's own directory, so gateway/appsettings.json applies
            // wherever the server is started; data goes under the working directory.
            ContentRootPath = AppContext.BaseDirectory,
        });
        // Under every other source, so appsettings.json, CHATWIRE_ variables and arguments override them: console
        // lines carry a UTC timestamp and fit on one line (docs/operations.md, "Logs").
        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource { InitialData = LoggingDefaults });
        builder.Configuration.AddEnvironmentVariables("CHATWIRE_");
        builder.Configuration.AddCommandLine(args);
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        var configuration = builder.Configuration;
        builder.Services.AddOptions<GatewayOptions>().Bind(configuration.GetSection(GatewayOptions.Section));
        builder.Services.AddOptions<AuthOptions>().Bind(configuration.GetSection(AuthOptions.Section));
        builder.Services.AddOptions<LimitsOptions>().Bind(configuration.GetSection(LimitsOptions.Section));
        builder.Services.AddOptions<AttachmentsOptions>().Bind(configuration.GetSection(AttachmentsOptions.Section));
        builder.Services.AddOptions<Admin.AdminOptions>().Bind(configuration.GetSection(Admin.AdminOptions.Section));
        builder.Services.AddOptions<Push.PushOptions>().Bind(configuration.GetSection(Push.PushOptions.Section));

        // Validated here, once, from the same configuration the options above bind: before touching the disk
        // or binding sockets, with every problem in one message.
        var failures = new List<string>();
        var gateway = ConfigurationChecks.Bind<GatewayOptions>(configuration, GatewayOptions.Section, failures);
        var auth = ConfigurationChecks.Bind<AuthOptions>(configuration, AuthOptions.Section, failures);
        var limits = ConfigurationChecks.Bind<LimitsOptions>(configuration, LimitsOptions.Section, failures);
        var storageOptions = ConfigurationChecks.Bind<StorageOptions>(configuration, StorageOptions.Section, failures);
        var routingOptions = ConfigurationChecks.Bind<RoutingOptions>(configuration, RoutingOptions.Section, failures);
        var attachments = ConfigurationChecks.Bind<AttachmentsOptions>(configuration, AttachmentsOptions.Section, failures);
        var adminOptions = ConfigurationChecks.Bind<Admin.AdminOptions>(configuration, Admin.AdminOptions.Section, failures);
        var push = ConfigurationChecks.Bind<Push.PushOptions>(configuration, Push.PushOptions.Section, failures);
        var unknownKeys = ConfigurationChecks.UnknownKeys(configuration).ToList();
        failures.AddRange(new GatewayOptionsValidation().Validate(null, gateway).Failures ?? []);
        failures.AddRange(new AuthOptionsValidation().Validate(null, auth).Failures ?? []);
        failures.AddRange(LimitsOptionsValidation.Validate(limits, gateway));
        failures.AddRange(AdapterOptionsValidation.Validate(storageOptions, routingOptions));
        failures.AddRange(AttachmentsOptionsValidation.Validate(attachments));
        if (adminOptions.Token.Length is > 0 and < Admin.AdminOptions.MinTokenLength)
        {
            failures.Add($"Admin:Token must be empty (the management API off) or at least {Admin.AdminOptions.MinTokenLength} characters (e.g. openssl rand -hex 32).");
        }
        failures.AddRange(Push.PushOptionsValidation.Validate(push, routingOptions.Bus));
        if (failures.Count > 0)
        {
            throw new OptionsValidationException("ChatWire", typeof(GatewayOptions), failures);
        }

        KestrelListeners.CheckPortsFree(gateway);
        var dataDirectory = Path.GetFullPath(gateway.DataDirectory);
        var report = new AdapterReport();
        var storage = await ServiceComposition.OpenStorageAsync(storageOptions, dataDirectory, report, cancellationToken);

        // A node's id lasts one process: a restarted node is a new node (its presence lease is new).
        var nodeId = Guid.CreateVersion7();
        var redis = await ServiceComposition.ConnectRoutingAsync(routingOptions, nodeId);

        var services = builder.Services;

        // The one timestamp format serves both formatters; the simple one needs the space before the level.
        services.PostConfigure<Microsoft.Extensions.Logging.Console.JsonConsoleFormatterOptions>(o => o.TimestampFormat = o.TimestampFormat?.TrimEnd());

        // The drain gets its whole deadline; 5 s more for closing what is left and the stores' final commit.
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromMilliseconds(gateway.DrainTimeoutMs) + TimeSpan.FromSeconds(5));
        services.AddSingleton(report);
        services.AddChatWireStorage(storage);
        services.AddChatWireRouting(routingOptions, redis, nodeId, report);
        services.AddChatWireGateway();

        // The embedded store's reads block a thread each; the pool's minimum follows them (StoreReadThreads).
        services.AddSingleton(new Conversations.StoreReadThreads(storageOptions.Directory == "sqlite" || storageOptions.Messages == "sqlite"));
        services.AddTransient<IStartupFilter, HttpPipeline.HeadAsGet>();
        Push.PushComposition.AddChatWirePush(services, push, routingOptions.Bus, storage.Push, report);
        services.Configure<JsonOptions>(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.Converters.Add(new Api.ApiTimeConverter());
            o.SerializerOptions.Converters.Add(new Api.ApiTimeOffsetConverter());

            // Numbers are JSON numbers (docs/http-api.md): "5" is not read as 5, and the OpenAPI document says
            // integer, not integer-or-string, which generated clients would turn into a union type.
            o.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict;

            // A member named twice is refused, not settled by the last one: parsers disagree on which one wins (RFC
            // 8259 §4), and a proxy or client that checked the first would have checked a different request.
            o.SerializerOptions.AllowDuplicateProperties = false;
        });
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddOpenApi(Api.OpenApiDocumentation.Configure);
        HttpCors.AddServices(services, gateway.CorsOrigins);

        var endpoints = new ListenerEndpoints();
        services.AddSingleton(endpoints);
        var certificate = KestrelListeners.LoadCertificate(gateway, dataDirectory, out var certificateCreated);
        var noiseCreated = false;
        var noiseKeys = string.IsNullOrEmpty(gateway.NoiseEndpoint)
            ? null
            : Noise.NoiseServerKeys.LoadOrCreate(NoiseKeyPath(gateway, dataDirectory), TimeSpan.FromDays(gateway.NoisePreviousKeyAcceptedDays), out noiseCreated);
        if (noiseKeys is not null)
        {
            services.AddSingleton(noiseKeys);
        }

        builder.WebHost.ConfigureKestrel(kestrel => KestrelListeners.Configure(kestrel, gateway, certificate, noiseKeys, endpoints));

        replaceServices?.Invoke(services);
        var app = builder.Build();
        var server = new ChatWireServer(app, storage, redis, dataDirectory);
        HttpPipeline.Map(app);

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ChatWire");
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            GatewayLog.DataDirectory(logger, dataDirectory);
            foreach (var key in unknownKeys)
            {
                GatewayLog.UnknownSetting(logger, key);
            }

            foreach (var path in report.TooOpen)
            {
                GatewayLog.DataTooOpen(logger, path);
            }

            foreach (var (port, adapter) in report.Entries)
            {
                GatewayLog.Adapter(logger, port, adapter);
            }

            if (storageOptions.Blobs == "local" && routingOptions.Bus == "redis")
            {
                GatewayLog.LocalBlobsInCluster(logger);
            }

            if (certificateCreated)
            {
                GatewayLog.DevelopmentCertificateCreated(logger, Path.Combine(dataDirectory, DevelopmentCertificate.FileName));
            }

            if (noiseKeys is not null)
            {
                GatewayLog.NoiseKey(logger, noiseKeys.CurrentPublicKeyHex, noiseKeys.Path, noiseCreated ? "created" : "loaded");
                if (noiseKeys.AcceptsPrevious(DateTimeOffset.UtcNow))
                {
                    GatewayLog.NoisePreviousKey(logger, Convert.ToHexStringLower(noiseKeys.Previous!.PublicKey), noiseKeys.PreviousAcceptedUntil!.Value);
                }

                if (noiseKeys.Next is { } next)
                {
                    GatewayLog.NoiseNextKey(logger, Convert.ToHexStringLower(next.PublicKey));
                }
            }

            Log("tcp", endpoints.TcpEndPoint, "chatwire");
            Log("tls", endpoints.TlsEndPoint, "chatwire+tls");
            Log("noise", endpoints.NoiseEndPoint, "chatwire+noise");
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

        // The drain starts the moment stopping is requested (readiness goes false, GO_AWAY goes out); its wait
        // is GatewayDrain.StoppingAsync. Resolved now: when the host fails to start, it is disposed before the
        // stopping callbacks run.
        var drain = app.Services.GetRequiredService<GatewayDrain>();
        app.Lifetime.ApplicationStopping.Register(drain.Begin);
        return server;
    }

    public Task StartAsync(CancellationToken cancellationToken = default) => App.StartAsync(cancellationToken);

    /// <summary>Where the Noise key file is: <c>Gateway:NoiseKeyPath</c>, else <c>noise-key.json</c> in the data directory.</summary>
    public static string NoiseKeyPath(GatewayOptions gateway, string dataDirectory) =>
        string.IsNullOrEmpty(gateway.NoiseKeyPath) ? Path.Combine(dataDirectory, Noise.NoiseServerKeys.DefaultFileName) : Path.GetFullPath(gateway.NoiseKeyPath);

    /// <summary>
    /// <c>--rotate-noise-key</c>: the staged Noise key (<c>--stage-noise-key</c>) or else a new one becomes current, the
    /// old current one kept as previous (accepted from IK clients for <c>Gateway:NoisePreviousKeyAcceptedDays</c>).
    /// Reads the same settings as the server; takes effect at the next start.
    /// </summary>
    public static (string Path, string PublicKeyHex, bool WasStaged) RotateNoiseKey(string[] args)
    {
        var path = NoiseKeyPath(args);
        var (publicKey, wasStaged) = Noise.NoiseServerKeys.Rotate(path);
        return (path, Convert.ToHexStringLower(publicKey), wasStaged);
    }

    /// <summary>
    /// <c>--stage-noise-key</c>: a new Noise key staged as the next one (replacing one staged before, whose public key
    /// is returned), accepted from IK clients from the next start on and made current by the next rotation.
    /// </summary>
    public static (string Path, string PublicKeyHex, string? ReplacedHex) StageNoiseKey(string[] args)
    {
        var path = NoiseKeyPath(args);
        var (publicKey, replaced) = Noise.NoiseServerKeys.Stage(path);
        return (path, Convert.ToHexStringLower(publicKey), replaced is null ? null : Convert.ToHexStringLower(replaced));
    }

    // The key file the settings in args (and appsettings.json and CHATWIRE_ variables, as the server reads them) name.
    private static string NoiseKeyPath(string[] args)
    {
        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables("CHATWIRE_")
            .AddCommandLine(args)
            .Build();
        var gateway = configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions();
        return NoiseKeyPath(gateway, Path.GetFullPath(gateway.DataDirectory));
    }

    /// <summary>Runs until told to stop (SIGTERM, Ctrl+C), then drains (<see cref="GatewayDrain"/>) before stopping.</summary>
    public Task RunAsync()
    {
        App.Services.GetRequiredService<GatewayDrain>().Enabled = true;
        return App.RunAsync();
    }

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

        // The group-commit writer commits everything already queued before the message store closes.
        await _storage.DisposeAsync();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }
}
