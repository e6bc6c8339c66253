using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Admission;
using ChatWire.Gateway.Connections;
using ChatWire.Gateway.Conversations;
using ChatWire.Gateway.Delivery;
using ChatWire.Gateway.Observability;
using ChatWire.Routing;
using ChatWire.Routing.Presence;
using ChatWire.Routing.Redis;
using ChatWire.Storage.Attachments;
using ChatWire.Storage.Blobs;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Keys;
using ChatWire.Storage.Messages;
using ChatWire.Storage.Mongo;
using ChatWire.Storage.MySql;
using ChatWire.Storage.Sqlite;
using StackExchange.Redis;

namespace ChatWire.Gateway.Hosting;

/// <summary>Which adapter serves each port, as configured; logged once at start.</summary>
internal sealed class AdapterReport
{
    private readonly List<(string Port, string Adapter)> _entries = [];

    public IReadOnlyList<(string Port, string Adapter)> Entries => _entries;

    /// <summary>Data files or directories that group or other users may read.</summary>
    public List<string> TooOpen { get; } = [];

    public void Add(string port, string adapter) => _entries.Add((port, adapter));
}

/// <summary>The opened storage adapters and how to close them.</summary>
internal sealed class ChatWireStorage(IDirectoryStore directory, IMessageStore messages, IBlobStore blobs, Func<ValueTask> close) : IAsyncDisposable
{
    /// <summary>The MySQL primary's connection string when either store is on MySQL, for the replication check; else null.</summary>
    public string? MySqlPrimary { get; init; }

    public IDirectoryStore Directory { get; } = directory;

    public IMessageStore Messages { get; } = messages;

    /// <summary>Attachment metadata: both directory adapters hold it in the directory database.</summary>
    public IAttachmentStore Attachments { get; } = (IAttachmentStore)directory;

    public IBlobStore Blobs { get; } = blobs;

    /// <summary>Push registrations, preferences and the store queue: both directory adapters hold them.</summary>
    public Storage.Push.IPushStore Push { get; } = (Storage.Push.IPushStore)directory;

    public ValueTask DisposeAsync() => close();
}

/// <summary>
/// The one seam that picks an adapter for each port from configuration (<c>Storage</c> and <c>Routing</c>
/// sections, docs/configuration.md) and registers the gateway's own services. Every port has its embedded
/// adapter; the distributed ones (MySQL, MongoDB, Redis) plug in here.
/// </summary>
internal static class ServiceComposition
{
    /// <summary>
    /// Opens the storage adapters <paramref name="options"/> names (SQLite files under
    /// <paramref name="dataDirectory"/>, or the shared MySQL / MongoDB databases, created and migrated here).
    /// </summary>
    public static async Task<ChatWireStorage> OpenStorageAsync(StorageOptions options, string dataDirectory, AdapterReport report, CancellationToken cancellationToken)
    {
        var closers = new Stack<Func<ValueTask>>();
        try
        {
            SqliteStoragePaths? paths = null;
            if (options.Directory == "sqlite" || options.Messages == "sqlite")
            {
                paths = SqliteStorage.PrepareDataDirectory(dataDirectory);
                report.TooOpen.AddRange(paths.TooOpen);
            }
            else if (!System.IO.Directory.Exists(dataDirectory))
            {
                // Still the home of the development certificate: owner-only, as in the embedded mode.
                if (OperatingSystem.IsWindows())
                {
                    System.IO.Directory.CreateDirectory(dataDirectory);
                }
                else
                {
                    System.IO.Directory.CreateDirectory(dataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }
            }

            IDirectoryStore directory;
            if (options.Directory == "mysql")
            {
                var store = await MySqlDirectoryStore.OpenAsync(
                    new MySqlDirectoryOptions(options.MySql.ConnectionString)
                    {
                        ReplicaConnectionString = string.IsNullOrWhiteSpace(options.MySql.ReplicaConnectionString) ? null : options.MySql.ReplicaConnectionString,
                    },
                    cancellationToken);
                closers.Push(store.DisposeAsync);
                directory = store;
                report.Add("directory", $"mysql ({Describe(options.MySql.ConnectionString)}{(string.IsNullOrWhiteSpace(options.MySql.ReplicaConnectionString) ? "" : ", replica " + Describe(options.MySql.ReplicaConnectionString))})");
            }
            else
            {
                var store = await SqliteDirectoryStore.OpenAsync(paths!.DirectoryDatabase, cancellationToken);
                closers.Push(() =>
                {
                    store.Dispose();
                    return ValueTask.CompletedTask;
                });
                directory = store;
                report.Add("directory", $"sqlite ({paths.DirectoryDatabase})");
            }

            IMessageStore messages;
            switch (options.Messages)
            {
                case "mysql":
                    {
                        var store = await MySqlMessageStore.OpenAsync(new MySqlMessageStoreOptions(options.MySql.ConnectionString), cancellationToken);
                        closers.Push(store.DisposeAsync);
                        messages = store;
                        report.Add("messages", $"mysql ({Describe(options.MySql.ConnectionString)})");
                        break;
                    }

                case "mongodb":
                    {
                        var store = await MongoMessageStore.OpenAsync(
                            new MongoMessageStoreOptions(options.MongoDb.ConnectionString, options.MongoDb.Database) { RetentionDays = options.MongoDb.RetentionDays },
                            cancellationToken);
                        closers.Push(store.DisposeAsync);
                        messages = store;
                        report.Add("messages", $"mongodb (database {options.MongoDb.Database}, retention {options.MongoDb.RetentionDays} days)");
                        break;
                    }

                default:
                    {
                        var store = await SqliteMessageStore.OpenAsync(paths!.MessagesDatabase, cancellationToken: cancellationToken);
                        closers.Push(store.DisposeAsync);
                        messages = store;
                        report.Add("messages", $"sqlite ({paths.MessagesDatabase})");
                        break;
                    }
            }

            IBlobStore blobs;
            if (options.Blobs == "s3")
            {
                var s3 = options.S3;
                var store = new S3BlobStore(new S3BlobStoreOptions(s3.ServiceUrl, s3.Bucket, s3.Region, s3.AccessKey, s3.SecretKey, s3.ForcePathStyle));
                closers.Push(() =>
                {
                    store.Dispose();
                    return ValueTask.CompletedTask;
                });
                blobs = store;

                // Where and as whom, never the secret key.
                var where = string.IsNullOrWhiteSpace(s3.ServiceUrl) ? $"AWS {s3.Region}" : $"{s3.ServiceUrl}, region {s3.Region}";
                var credentials = string.IsNullOrEmpty(s3.AccessKey) ? "default credentials" : $"access key {s3.AccessKey}";
                report.Add("blobs", $"s3 (bucket {s3.Bucket} at {where}{(s3.ForcePathStyle ? ", path-style" : "")}, {credentials})");
            }
            else
            {
                var store = LocalBlobStore.Open(Path.Combine(dataDirectory, "blobs"));
                blobs = store;
                report.Add("blobs", $"local ({store.Root})");
            }

            var mySqlPrimary = options.Directory == "mysql" || options.Messages == "mysql" ? options.MySql.ConnectionString : null;
            return new ChatWireStorage(directory, messages, blobs, async () =>
            {
                // The message writer drains and commits what was queued before anything closes.
                while (closers.TryPop(out var close))
                {
                    await close();
                }
            })
            {
                MySqlPrimary = mySqlPrimary,
            };
        }
        catch
        {
            while (closers.TryPop(out var close))
            {
                await close();
            }

            throw;
        }
    }

    // Host, port and database of a MySQL connection string, never its password.
    private static string Describe(string mySqlConnectionString)
    {
        var builder = new MySqlConnector.MySqlConnectionStringBuilder(mySqlConnectionString);
        return $"{builder.Server}:{builder.Port}/{builder.Database}";
    }

    public static IServiceCollection AddChatWireStorage(this IServiceCollection services, ChatWireStorage storage)
    {
        // The adapters as opened, unwrapped (the online backup asks which are embedded); not disposed by the container.
        services.AddSingleton(storage);
        services.AddSingleton(storage.Directory);

        // The directory adapter is also the key directory: key state moves with membership in its transactions.
        services.AddSingleton((IKeyDirectoryStore)storage.Directory);
        services.AddSingleton((IAccountAdminStore)storage.Directory);

        // Timed for the metrics; the group-commit writer reports its batches to them as well.
        services.AddSingleton<IMessageStore>(sp =>
        {
            var metrics = sp.GetRequiredService<GatewayMetrics>();
            storage.Messages.ObserveCommits(metrics);
            return new TimedMessageStore(storage.Messages, metrics);
        });
        services.AddSingleton(storage.Attachments);
        services.AddSingleton(storage.Blobs);
        if (storage.Blobs is LocalBlobStore local)
        {
            services.AddSingleton(local);
        }

        return services;
    }

    /// <summary>
    /// Connects to Redis when the bus is <c>redis</c> (null for the in-process bus). The connection does not
    /// fail the start when Redis is briefly away: it keeps retrying, and meanwhile the node serves its own
    /// connections (publishes to other nodes fail fast and are counted).
    /// </summary>
    public static async Task<IConnectionMultiplexer?> ConnectRoutingAsync(RoutingOptions options, Guid nodeId)
    {
        if (options.Bus != "redis")
        {
            return null;
        }

        var configuration = ConfigurationOptions.Parse(options.Redis.Configuration);
        configuration.AbortOnConnectFail = false;
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        configuration.ClientName = $"chatwire-{nodeId:N}";
        configuration.ReconnectRetryPolicy = new ExponentialRetry(250, 5000);
        return await ConnectionMultiplexer.ConnectAsync(configuration);
    }

    public static IServiceCollection AddChatWireRouting(this IServiceCollection services, RoutingOptions options, IConnectionMultiplexer? redis, Guid nodeId, AdapterReport report)
    {
        if (redis is null)
        {
            services.AddSingleton<IMessageBus, InProcessMessageBus>();
            services.AddSingleton<IMembershipBackplane, NoMembershipBackplane>();
            services.AddSingleton<IPresenceRegistry, InProcessPresenceRegistry>();
            services.AddSingleton<ISlowModeGate>(sp => sp.GetRequiredService<InProcessSlowModeGate>());
            report.Add("bus", options.Bus);
            report.Add("membership cache", "in-process");
            report.Add("presence", "in-process");
            return services;
        }

        services.AddSingleton(redis);
        services.AddSingleton<IMessageBus>(sp =>
        {
            var bus = new RedisMessageBus(redis, nodeId) { ReplayAfterOutage = BusEnvelope.IsWorthReplaying };
            sp.GetRequiredService<GatewayMetrics>().ObserveBus(bus, redis);
            return bus;
        });
        services.AddSingleton<IMembershipBackplane>(_ => new RedisMembershipBackplane(redis));
        services.AddSingleton<ISlowModeGate>(sp => new RedisSlowModeGate(redis, sp.GetRequiredService<InProcessSlowModeGate>()));
        var lease = new RedisPresenceOptions
        {
            LeaseTtl = TimeSpan.FromMilliseconds(options.Redis.PresenceLeaseMs),
            LeaseRefresh = TimeSpan.FromMilliseconds(options.Redis.PresenceRefreshMs),
        };
        services.AddSingleton<IPresenceRegistry>(sp =>
        {
            var logger = sp.GetRequiredService<ILogger<RedisPresenceRegistry>>();
            return new RedisPresenceRegistry(redis, nodeId.ToString("N"), lease with { OnError = ex => GatewayLog.PresenceFailed(logger, ex) });
        });
        var endpoints = string.Join(",", redis.GetEndPoints().Select(e => e.ToString()));
        report.Add("bus", $"redis ({endpoints}), node {nodeId}");
        report.Add("membership cache", $"in-process, then redis ({endpoints})");
        report.Add("presence", $"redis ({endpoints}), lease {options.Redis.PresenceLeaseMs} ms renewed every {options.Redis.PresenceRefreshMs} ms");
        return services;
    }

    /// <summary>Accounts, conversations, delivery and protocol connections.</summary>
    public static IServiceCollection AddChatWireGateway(this IServiceCollection services)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<AuditLog>();
        services.AddSingleton<PasswordHasher>();
        services.AddSingleton<AttemptThrottle>();
        services.AddSingleton<Api.ApiRequestBudget>();
        services.AddSingleton<Api.AccountRequestsInProgress>();
        services.AddSingleton<RefusedTokenBudget>();
        services.AddSingleton<SessionAuthenticator>();
        services.AddSingleton<MembershipCache>();
        services.AddSingleton<UserLocks>();
        services.AddSingleton<ReadGate>();
        services.AddSingleton<SendRateLimiter>();
        services.AddSingleton<InProcessSlowModeGate>();
        services.AddSingleton<TypingThrottle>();
        services.AddSingleton<StorageQuota>();
        services.AddSingleton<E2eSendCheck>();
        services.AddSingleton<Keys.PrekeyClaimThrottle>();
        services.AddSingleton<Keys.KeyChangeAnnouncer>();
        services.AddSingleton<Accounts.SessionRevocations>();
        services.AddSingleton<ConversationService>();
        services.AddSingleton<Admin.AdminService>();
        services.AddSingleton<Admin.EmbeddedBackup>();
        services.AddSingleton<DeliveryFanout>();
        services.AddSingleton<PresenceService>();
        services.AddSingleton<EventPublisher>();
        services.AddHostedService(sp => sp.GetRequiredService<EventPublisher>());
        services.AddSingleton<ConnectionBudget>();
        services.AddSingleton<ListenerHealth>();
        services.AddSingleton<AdmissionMiddleware>();
        services.AddSingleton<Microsoft.AspNetCore.Connections.IConnectionListenerFactory, GuardedListenerFactory>();

        // Registered last, so Kestrel asks it first; it binds only the endpoints marked as LeanEndPoint.
        services.AddSingleton<Transport.LeanBufferPool>(_ => new Transport.LeanBufferPool());
        services.AddSingleton<Transport.LeanTransportFactory>();
        services.AddSingleton<Microsoft.AspNetCore.Connections.IConnectionListenerFactory>(sp => sp.GetRequiredService<Transport.LeanTransportFactory>());
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<ConnectionServices>();
        services.AddHostedService<ConnectionSweeper>();
        services.AddSingleton<GatewayDrain>();
        services.AddHostedService(sp => sp.GetRequiredService<GatewayDrain>());
        services.AddSingleton<ReadinessProbe>();
        services.AddHostedService<ReadinessSampler>();
        services.AddSingleton<Attachments.AttachmentService>();
        services.AddHostedService<Attachments.AttachmentSweeper>();
        return services;
    }
}
