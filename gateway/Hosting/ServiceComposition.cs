using ChatWire.Gateway.Accounts;
using ChatWire.Gateway.Admission;
using ChatWire.Gateway.Connections;
using ChatWire.Gateway.Conversations;
using ChatWire.Gateway.Delivery;
using ChatWire.Gateway.Observability;
using ChatWire.Routing;
using ChatWire.Routing.Presence;
using ChatWire.Storage.Directory;
using ChatWire.Storage.Messages;
using ChatWire.Storage.Sqlite;

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
internal sealed class ChatWireStorage(IDirectoryStore directory, IMessageStore messages, Func<ValueTask> close) : IAsyncDisposable
{
    public IDirectoryStore Directory { get; } = directory;

    public IMessageStore Messages { get; } = messages;

    public ValueTask DisposeAsync() => close();
}

/// <summary>
/// The one seam that picks an adapter for each port from configuration (<c>Storage</c> and <c>Routing</c>
/// sections, docs/configuration.md) and registers the gateway's own services. Every port has its embedded
/// adapter; the distributed ones (MySQL, MongoDB, Redis) plug in here.
/// </summary>
internal static class ServiceComposition
{
    /// <summary>Opens the storage adapters <paramref name="options"/> names, under <paramref name="dataDirectory"/>.</summary>
    public static async Task<ChatWireStorage> OpenStorageAsync(StorageOptions options, string dataDirectory, AdapterReport report, CancellationToken cancellationToken)
    {
        // Validation has already refused anything but the adapters built into this version.
        var paths = SqliteStorage.PrepareDataDirectory(dataDirectory);
        var directory = await SqliteDirectoryStore.OpenAsync(paths.DirectoryDatabase, cancellationToken);
        SqliteMessageStore messages;
        try
        {
            messages = await SqliteMessageStore.OpenAsync(paths.MessagesDatabase, cancellationToken: cancellationToken);
        }
        catch
        {
            directory.Dispose();
            throw;
        }

        report.TooOpen.AddRange(paths.TooOpen);
        report.Add("directory", $"{options.Directory} ({paths.DirectoryDatabase})");
        report.Add("messages", $"{options.Messages} ({paths.MessagesDatabase})");
        return new ChatWireStorage(directory, messages, async () =>
        {
            // The writer drains and commits what was queued before the files close.
            await messages.DisposeAsync();
            directory.Dispose();
        });
    }

    public static IServiceCollection AddChatWireStorage(this IServiceCollection services, ChatWireStorage storage)
    {
        services.AddSingleton(storage.Directory);
        services.AddSingleton(storage.Messages);
        return services;
    }

    public static IServiceCollection AddChatWireRouting(this IServiceCollection services, RoutingOptions options, AdapterReport report)
    {
        services.AddSingleton<IMessageBus, InProcessMessageBus>();
        services.AddSingleton<IPresenceRegistry, InProcessPresenceRegistry>();
        report.Add("bus", options.Bus);
        return services;
    }

    /// <summary>Accounts, conversations, delivery and protocol connections.</summary>
    public static IServiceCollection AddChatWireGateway(this IServiceCollection services)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<PasswordHasher>();
        services.AddSingleton<AttemptThrottle>();
        services.AddSingleton<SessionAuthenticator>();
        services.AddSingleton<MembershipCache>();
        services.AddSingleton<UserLocks>();
        services.AddSingleton<SendRateLimiter>();
        services.AddSingleton<TypingThrottle>();
        services.AddSingleton<StorageQuota>();
        services.AddSingleton<ConversationService>();
        services.AddSingleton<DeliveryFanout>();
        services.AddSingleton<PresenceService>();
        services.AddSingleton<EventPublisher>();
        services.AddHostedService(sp => sp.GetRequiredService<EventPublisher>());
        services.AddSingleton<ConnectionBudget>();
        services.AddSingleton<ListenerHealth>();
        services.AddSingleton<AdmissionMiddleware>();
        services.AddSingleton<Microsoft.AspNetCore.Connections.IConnectionListenerFactory, GuardedListenerFactory>();
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<ConnectionServices>();
        services.AddHostedService<ConnectionSweeper>();
        return services;
    }
}
