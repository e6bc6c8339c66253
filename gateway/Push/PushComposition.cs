using ChatWire.Storage.Push;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Push;

/// <summary>Registers the push services: providers, delivery, the dispatcher, the queue configured and the planner.</summary>
internal static class PushComposition
{
    public static IServiceCollection AddChatWirePush(this IServiceCollection services, PushOptions options, string bus, IPushStore store, Hosting.AdapterReport report)
    {
        var queue = options.QueueFor(bus);
        services.AddSingleton(store);
        services.AddSingleton(new WebhookAddressPolicy(options.AllowPrivateWebhooks));
        services.AddSingleton<PushMetrics>();
        services.AddSingleton<WebhookSender>(sp => new WebhookSender(options, sp.GetRequiredService<WebhookAddressPolicy>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IPushSender>(sp => sp.GetRequiredService<WebhookSender>());
        services.AddSingleton<IPushSender>(sp => new ApnsSender(options, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IPushSender>(sp => new FcmSender(options, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<PushDelivery>();
        services.AddSingleton<SilentReceivers>();
        services.AddSingleton<PushDispatcher>();

        if (queue == "redis")
        {
            services.AddSingleton<RedisPushQueue>(sp => new RedisPushQueue(
                sp.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>(),
                sp.GetRequiredService<PushDispatcher>(),
                sp.GetRequiredService<IOptions<PushOptions>>(),
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<RedisPushQueue>>()));
            services.AddSingleton<IPushQueue>(sp => sp.GetRequiredService<RedisPushQueue>());
            if (options.Enabled)
            {
                services.AddHostedService(sp => sp.GetRequiredService<RedisPushQueue>());
            }
        }
        else
        {
            services.AddSingleton<StorePushQueue>();
            services.AddSingleton<IPushQueue>(sp => sp.GetRequiredService<StorePushQueue>());
            if (options.Enabled)
            {
                services.AddHostedService(sp => sp.GetRequiredService<StorePushQueue>());
            }
        }

        if (options.Enabled)
        {
            services.AddSingleton<PushPlanner>();
            services.AddHostedService(sp => sp.GetRequiredService<PushPlanner>());
        }

        var providers = new List<string>();
        if (!string.IsNullOrEmpty(options.Webhook.SigningKey))
        {
            providers.Add("webhook");
        }

        if (!string.IsNullOrEmpty(options.Apns.PrivateKeyPath))
        {
            providers.Add($"apns ({options.Apns.Endpoint}, topic {options.Apns.Topic})");
        }

        if (!string.IsNullOrEmpty(options.Fcm.ServiceAccountPath))
        {
            providers.Add($"fcm ({options.Fcm.Endpoint})");
        }

        report.Add("push", options.Enabled
            ? $"queue {queue}, delay {options.DelayMs} ms, providers: {(providers.Count == 0 ? "none configured" : string.Join(", ", providers))}"
            : "off (registrations kept, nothing sent)");
        return services;
    }
}

/// <summary>The Push section's values, checked at start with the rest of the configuration.</summary>
internal static class PushOptionsValidation
{
    public static IEnumerable<string> Validate(PushOptions options, string bus)
    {
        foreach (var (key, value) in new[]
        {
            (nameof(options.DelayMs), options.DelayMs),
            (nameof(options.PollIntervalMs), options.PollIntervalMs),
            (nameof(options.MaxAttempts), options.MaxAttempts),
            (nameof(options.RetryBaseMs), options.RetryBaseMs),
            (nameof(options.RequestTimeoutMs), options.RequestTimeoutMs),
            (nameof(options.DispatchTimeoutMs), options.DispatchTimeoutMs),
            (nameof(options.MaxDevicesPerUser), options.MaxDevicesPerUser),
            ("Webhook:MaxConcurrency", options.Webhook.MaxConcurrency),
            ("Apns:MaxConcurrency", options.Apns.MaxConcurrency),
            ("Fcm:MaxConcurrency", options.Fcm.MaxConcurrency),
            ("Redis:ClaimIdleMs", options.Redis.ClaimIdleMs),
        })
        {
            if (value <= 0)
            {
                yield return $"Push:{key} must be positive; got {value}.";
            }
        }

        if (options.MaxFoldMs < 0)
        {
            yield return $"Push:MaxFoldMs must be 0 or positive; got {options.MaxFoldMs}.";
        }

        if (options.Queue is not ("auto" or "store" or "redis"))
        {
            yield return $"Push:Queue must be auto, store or redis; got '{options.Queue}'.";
        }
        else if (options.Queue == "redis" && bus != "redis")
        {
            yield return "Push:Queue redis needs Routing:Bus redis (the queue uses the same Redis).";
        }

        if (!string.IsNullOrEmpty(options.Webhook.SigningKey) && !IsKey(options.Webhook.SigningKey))
        {
            yield return "Push:Webhook:SigningKey must be base64 of at least 32 bytes (e.g. openssl rand -base64 32).";
        }

        var apns = new[] { options.Apns.KeyId, options.Apns.TeamId, options.Apns.PrivateKeyPath, options.Apns.Topic };
        if (apns.Any(string.IsNullOrEmpty) && !apns.All(string.IsNullOrEmpty))
        {
            yield return "Push:Apns needs all of KeyId, TeamId, PrivateKeyPath and Topic, or none of them.";
        }
        else if (!string.IsNullOrEmpty(options.Apns.PrivateKeyPath) && !File.Exists(options.Apns.PrivateKeyPath))
        {
            yield return $"Push:Apns:PrivateKeyPath names no file: {options.Apns.PrivateKeyPath}.";
        }

        if (!string.IsNullOrEmpty(options.Fcm.ServiceAccountPath) && !File.Exists(options.Fcm.ServiceAccountPath))
        {
            yield return $"Push:Fcm:ServiceAccountPath names no file: {options.Fcm.ServiceAccountPath}.";
        }

        if (!string.IsNullOrEmpty(options.TrustedCertificatePath) && !File.Exists(options.TrustedCertificatePath))
        {
            yield return $"Push:TrustedCertificatePath names no file: {options.TrustedCertificatePath}.";
        }
    }

    private static bool IsKey(string value)
    {
        var bytes = new byte[value.Length];
        return Convert.TryFromBase64String(value, bytes, out var length) && length >= 32;
    }
}
