using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Hosting;

internal sealed class GatewayOptionsValidation : IValidateOptions<GatewayOptions>
{
    /// <summary>The smallest Gateway:MaxFrameLength taken.</summary>
    public const int MinMaxFrameLength = 1024;

    /// <summary>The largest Gateway:MaxFrameLength taken: 16 MiB.</summary>
    public const int MaxMaxFrameLength = 16 * 1024 * 1024;

    /// <summary>How far below MaxFrameLength MaxContentLength must stay: room for a SEND's other fields.</summary>
    public const int FrameHeadroom = 1024;

    /// <summary>The largest Gateway:ConnectionsPerMinutePerIp taken, and the most its default grows to.</summary>
    public const int MaxConnectionsPerMinutePerIp = 1_000_000;

    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        var failures = new List<string>();
        foreach (var (key, value, required) in new[]
        {
            (nameof(options.TcpEndpoint), options.TcpEndpoint, false),
            (nameof(options.TlsEndpoint), options.TlsEndpoint, false),
            (nameof(options.NoiseEndpoint), options.NoiseEndpoint, false),
            (nameof(options.HttpEndpoint), options.HttpEndpoint, true),
            (nameof(options.ManagementEndpoint), options.ManagementEndpoint, true),
        })
        {
            if (string.IsNullOrEmpty(value) ? required : !EndpointParser.TryParse(value, out _))
            {
                failures.Add($"Gateway:{key} must be host:port (e.g. 127.0.0.1:7400){(required ? string.Empty : " or empty to disable")}; got '{value}'.");
            }
        }

        // Off loopback, GET /v1/server-info must not echo the request's Host header back as where to connect:
        // anyone able to set that header could send clients elsewhere.
        if (string.IsNullOrWhiteSpace(options.PublicHost)
            && new[] { options.TcpEndpoint, options.TlsEndpoint, options.NoiseEndpoint, options.HttpEndpoint }.Any(e => EndpointParser.TryParse(e, out var ep) && !System.Net.IPAddress.IsLoopback(ep.Address)))
        {
            failures.Add("Gateway:PublicHost must name the host clients connect to (e.g. chat.example.com) when a listener is off loopback.");
        }

        if (!string.IsNullOrEmpty(options.ManagementEndpoint) && options.ManagementEndpoint == options.HttpEndpoint)
        {
            failures.Add("Gateway:ManagementEndpoint must differ from Gateway:HttpEndpoint: /metrics is never served on the API listener.");
        }

        if (options.ProtocolTransport is not (ProtocolTransports.Lean or ProtocolTransports.Sockets))
        {
            failures.Add($"Gateway:ProtocolTransport must be '{ProtocolTransports.Lean}' or '{ProtocolTransports.Sockets}'; got '{options.ProtocolTransport}'.");
        }

        Positive(failures, nameof(options.AuthDeadlineMs), options.AuthDeadlineMs);
        Positive(failures, nameof(options.HeartbeatIntervalMs), options.HeartbeatIntervalMs);
        if (options.PresenceOfflineGraceMs is < 0 or > 60_000)
        {
            failures.Add($"Gateway:PresenceOfflineGraceMs must be 0 to 60000; got {options.PresenceOfflineGraceMs}.");
        }

        if (options.TopicLingerMs is < 0 or > 600_000)
        {
            failures.Add($"Gateway:TopicLingerMs must be 0 to 600000; got {options.TopicLingerMs}.");
        }

        Positive(failures, nameof(options.FrameTimeoutMs), options.FrameTimeoutMs);
        Positive(failures, nameof(options.SweepIntervalMs), options.SweepIntervalMs);
        Positive(failures, nameof(options.TlsHandshakeTimeoutMs), options.TlsHandshakeTimeoutMs);
        Positive(failures, nameof(options.MaxOutboundBytes), options.MaxOutboundBytes);
        Positive(failures, nameof(options.SlowConsumerGraceMs), options.SlowConsumerGraceMs);
        if (options.MaxOutboundBurstBytes < options.MaxOutboundBytes)
        {
            failures.Add($"Gateway:MaxOutboundBurstBytes must be at least MaxOutboundBytes ({options.MaxOutboundBytes}); got {options.MaxOutboundBurstBytes}.");
        }

        Positive(failures, nameof(options.MaxSendsInFlight), options.MaxSendsInFlight);
        Positive(failures, nameof(options.MaxConnectionsPerIp), options.MaxConnectionsPerIp);
        if (options.ConnectionsPerMinutePerIp is < 0 or > MaxConnectionsPerMinutePerIp)
        {
            failures.Add($"Gateway:ConnectionsPerMinutePerIp must be 0 (no limit) or 1 to {MaxConnectionsPerMinutePerIp}; got {options.ConnectionsPerMinutePerIp}.");
        }

        Positive(failures, nameof(options.MaxStoreReadsInFlight), options.MaxStoreReadsInFlight);
        Positive(failures, nameof(options.MaxManagementConnections), options.MaxManagementConnections);
        Positive(failures, nameof(options.HttpKeepAliveTimeoutMs), options.HttpKeepAliveTimeoutMs);
        Positive(failures, nameof(options.HttpRequestHeadersTimeoutMs), options.HttpRequestHeadersTimeoutMs);
        Positive(failures, nameof(options.HttpRequestBodyTimeoutMs), options.HttpRequestBodyTimeoutMs);
        Positive(failures, nameof(options.HttpResponseStallTimeoutMs), options.HttpResponseStallTimeoutMs);
        Positive(failures, nameof(options.ReadinessTimeoutMs), options.ReadinessTimeoutMs);
        if (options.DrainTimeoutMs is < 0 or > 3_600_000)
        {
            failures.Add($"Gateway:DrainTimeoutMs must be 0 (close at once) to 3600000 (an hour); got {options.DrainTimeoutMs}.");
        }

        if (options.NoisePreviousKeyAcceptedDays is < 0 or > 3650)
        {
            failures.Add($"Gateway:NoisePreviousKeyAcceptedDays must be 0 (refuse the previous key at once) to 3650; got {options.NoisePreviousKeyAcceptedDays}.");
        }

        if (options.MaxHttpConnections < 0)
        {
            failures.Add("Gateway:MaxHttpConnections must be 0 (a quarter of the process budget) or positive.");
        }

        foreach (var origin in options.CorsOrigins)
        {
            if (!HttpCors.IsOrigin(origin))
            {
                failures.Add($"Gateway:CorsOrigins must list origins such as https://chat.example.com (scheme, host and port only) or *; got '{origin}'.");
            }
        }

        foreach (var proxy in options.TrustedProxies)
        {
            if (!System.Net.IPAddress.TryParse(proxy, out _))
            {
                failures.Add($"Gateway:TrustedProxies must list IP addresses; got '{proxy}'.");
            }
        }

        if (options.MaxSendBytesInFlight < options.MaxContentLength)
        {
            failures.Add($"Gateway:MaxSendBytesInFlight must be at least MaxContentLength ({options.MaxContentLength}); got {options.MaxSendBytesInFlight}.");
        }

        if (options.MaxConnectionsPerUser < 0)
        {
            failures.Add("Gateway:MaxConnectionsPerUser must be 0 (no cap) or positive.");
        }

        if (options.MaxConnections < 0)
        {
            failures.Add("Gateway:MaxConnections must be 0 (derive from the open-file limit) or positive.");
        }

        if (options.MaxFrameLength is < MinMaxFrameLength or > MaxMaxFrameLength)
        {
            failures.Add($"Gateway:MaxFrameLength must be {MinMaxFrameLength} to {MaxMaxFrameLength}; got {options.MaxFrameLength}.");
        }

        if (options.MaxContentLength <= 0 || options.MaxContentLength > options.MaxFrameLength - FrameHeadroom)
        {
            failures.Add($"Gateway:MaxContentLength must be positive and at least {FrameHeadroom} below MaxFrameLength; got {options.MaxContentLength}.");
        }

        // One frame being written while the next is queued must fit, or a reader that keeps up would be
        // closed as slow whenever two large messages arrive together.
        if (options.MaxOutboundBytes < 2L * options.MaxFrameLength)
        {
            failures.Add($"Gateway:MaxOutboundBytes must be at least twice MaxFrameLength ({2L * options.MaxFrameLength}); got {options.MaxOutboundBytes}.");
        }

        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            failures.Add("Gateway:DataDirectory must name a directory.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Positive(List<string> failures, string key, int value)
    {
        if (value <= 0)
        {
            failures.Add($"Gateway:{key} must be positive; got {value}.");
        }
    }
}

internal sealed class AuthOptionsValidation : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        var failures = new List<string>();
        if (options.Argon2MemoryKib < AuthOptions.MinArgon2MemoryKib)
        {
            failures.Add($"Auth:Argon2MemoryKib must be at least {AuthOptions.MinArgon2MemoryKib} (19 MiB, the OWASP floor); got {options.Argon2MemoryKib}.");
        }

        if (options.Argon2Passes < AuthOptions.MinArgon2Passes)
        {
            failures.Add($"Auth:Argon2Passes must be at least {AuthOptions.MinArgon2Passes}; got {options.Argon2Passes}.");
        }

        if (options.MaxConcurrentHashes < 0 || options.MaxQueuedHashes < 0)
        {
            failures.Add("Auth:MaxConcurrentHashes and Auth:MaxQueuedHashes must not be negative.");
        }

        if (options.SessionIdleTimeout <= TimeSpan.Zero || options.SessionMaxAge <= TimeSpan.Zero || options.SessionIdleTimeout > options.SessionMaxAge)
        {
            failures.Add("Auth:SessionIdleTimeout and Auth:SessionMaxAge must be positive, and the idle timeout no longer than the maximum age.");
        }

        if (options.InviteDefaultLifetime <= TimeSpan.Zero || options.InviteDefaultLifetime > options.InviteMaxLifetime)
        {
            failures.Add("Auth:InviteDefaultLifetime must be positive and no longer than Auth:InviteMaxLifetime.");
        }

        if (options.AttemptsPerIpPerMinute <= 0 || options.AttemptsPerAccountPerMinute <= 0 || options.AttemptsPerAccountFromAllAddressesPerMinute <= 0)
        {
            failures.Add("Auth:AttemptsPerIpPerMinute, Auth:AttemptsPerAccountPerMinute and Auth:AttemptsPerAccountFromAllAddressesPerMinute must be positive.");
        }

        if (options.MaxHashesPerIp <= 0)
        {
            failures.Add($"Auth:MaxHashesPerIp must be positive; got {options.MaxHashesPerIp}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

internal static class LimitsOptionsValidation
{
    /// <summary>A request budget's largest allowance: 1,000 requests a second, far from the clock's resolution.</summary>
    public const int MaxApiRequestsPerMinute = 60_000;

    public static IEnumerable<string> Validate(LimitsOptions limits, GatewayOptions gateway)
    {
        foreach (var (key, value) in new[]
        {
            (nameof(limits.MaxTeamsOwnedPerUser), limits.MaxTeamsOwnedPerUser),
            (nameof(limits.MaxChannelsPerTeam), limits.MaxChannelsPerTeam),
            (nameof(limits.MaxActiveInvitesPerTeam), limits.MaxActiveInvitesPerTeam),
            (nameof(limits.MaxGroupConversationsPerUser), limits.MaxGroupConversationsPerUser),
            (nameof(limits.MaxGroupConversationsCreatedPerUser), limits.MaxGroupConversationsCreatedPerUser),
            (nameof(limits.PrekeyClaimsPerMinutePerUser), limits.PrekeyClaimsPerMinutePerUser),
            (nameof(limits.MaxSenderChainMembers), limits.MaxSenderChainMembers),
        })
        {
            if (value <= 0)
            {
                yield return $"Limits:{key} must be positive; got {value}.";
            }
        }

        if (limits.ApiRequestsPerMinutePerUser is < 0 or > MaxApiRequestsPerMinute || limits.ApiRequestsPerMinutePerAddress is < 0 or > MaxApiRequestsPerMinute
            || limits.RefusedTokensPerMinutePerAddress is < 0 or > MaxApiRequestsPerMinute)
        {
            yield return "Limits:ApiRequestsPerMinutePerUser, Limits:ApiRequestsPerMinutePerAddress and Limits:RefusedTokensPerMinutePerAddress "
                + $"must be 0 (no limit) or 1 to {MaxApiRequestsPerMinute}.";
        }

        if (limits.ApiRequestsInProgressPerUser < 0)
        {
            yield return $"Limits:ApiRequestsInProgressPerUser must be 0 (no limit) or positive; got {limits.ApiRequestsInProgressPerUser}.";
        }

        if (limits.StorageBytesPerUser < 0 || limits.StorageBytesPerTeam < 0)
        {
            yield return "Limits:StorageBytesPerUser and Limits:StorageBytesPerTeam must be 0 (no quota) or positive.";
        }

        foreach (var (key, rate, burst) in new[]
        {
            ("User", limits.SendMessagesPerSecondPerUser, (double)limits.SendMessageBurstPerUser),
            ("Device", limits.SendMessagesPerSecondPerDevice, limits.SendMessageBurstPerDevice),
            ("Conversation", limits.SendMessagesPerSecondPerConversation, limits.SendMessageBurstPerConversation),
        })
        {
            if (rate < 0 || (rate > 0 && burst < 1))
            {
                yield return $"Limits:SendMessagesPerSecondPer{key} must be 0 (off) or positive, with Limits:SendMessageBurstPer{key} at least 1.";
            }
        }

        if (limits.ChannelChangesPerMinutePerChannel < 0 || (limits.ChannelChangesPerMinutePerChannel > 0 && limits.ChannelChangeBurstPerChannel < 1))
        {
            yield return "Limits:ChannelChangesPerMinutePerChannel must be 0 (off) or positive, with Limits:ChannelChangeBurstPerChannel at least 1.";
        }

        foreach (var (key, rate, burst) in new[]
        {
            ("User", limits.SendBytesPerSecondPerUser, limits.SendByteBurstPerUser),
            ("Device", limits.SendBytesPerSecondPerDevice, limits.SendByteBurstPerDevice),
        })
        {
            // A burst smaller than the largest content would refuse that content for ever.
            if (rate < 0 || (rate > 0 && burst < gateway.MaxContentLength))
            {
                yield return $"Limits:SendBytesPerSecondPer{key} must be 0 (off) or positive, with Limits:SendByteBurstPer{key} at least Gateway:MaxContentLength ({gateway.MaxContentLength}); got {burst}.";
            }
        }
    }
}

internal sealed class AdapterOptionsValidation
{
    public static IEnumerable<string> Validate(StorageOptions storage, RoutingOptions routing)
    {
        if (storage.Directory is not ("sqlite" or "mysql"))
        {
            yield return $"Storage:Directory must be 'sqlite' or 'mysql'; got '{storage.Directory}'.";
        }

        if (storage.Messages is not ("sqlite" or "mysql" or "mongodb"))
        {
            yield return $"Storage:Messages must be 'sqlite', 'mysql' or 'mongodb'; got '{storage.Messages}'.";
        }

        if ((storage.Directory == "mysql" || storage.Messages == "mysql") && string.IsNullOrWhiteSpace(storage.MySql.ConnectionString))
        {
            yield return "Storage:MySql:ConnectionString is required when Storage:Directory or Storage:Messages is 'mysql'.";
        }

        foreach (var (key, value) in new[] { ("ConnectionString", storage.MySql.ConnectionString), ("ReplicaConnectionString", storage.MySql.ReplicaConnectionString) })
        {
            if (!string.IsNullOrWhiteSpace(value) && !IsValidMySql(value, out var problem))
            {
                yield return $"Storage:MySql:{key} is not a valid MySQL connection string: {problem}";
            }
        }

        if (storage.Messages == "mongodb")
        {
            if (string.IsNullOrWhiteSpace(storage.MongoDb.ConnectionString))
            {
                yield return "Storage:MongoDb:ConnectionString is required when Storage:Messages is 'mongodb'.";
            }
            else if (!storage.MongoDb.ConnectionString.StartsWith("mongodb://", StringComparison.Ordinal) && !storage.MongoDb.ConnectionString.StartsWith("mongodb+srv://", StringComparison.Ordinal))
            {
                yield return "Storage:MongoDb:ConnectionString must start with mongodb:// or mongodb+srv://.";
            }

            if (storage.MongoDb.RetentionDays < 1)
            {
                yield return $"Storage:MongoDb:RetentionDays must be at least 1; got {storage.MongoDb.RetentionDays}.";
            }
        }

        if (storage.Blobs is not ("local" or "s3"))
        {
            yield return $"Storage:Blobs must be 'local' or 's3'; got '{storage.Blobs}'.";
        }
        else if (storage.Blobs == "s3")
        {
            if (string.IsNullOrWhiteSpace(storage.S3.Bucket))
            {
                yield return "Storage:S3:Bucket is required when Storage:Blobs is 's3'.";
            }

            if (string.IsNullOrWhiteSpace(storage.S3.Region))
            {
                yield return "Storage:S3:Region is required when Storage:Blobs is 's3' (e.g. us-east-1).";
            }

            if (!string.IsNullOrWhiteSpace(storage.S3.ServiceUrl)
                && !(Uri.TryCreate(storage.S3.ServiceUrl, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"))
            {
                yield return $"Storage:S3:ServiceUrl must be an http:// or https:// URL; got '{storage.S3.ServiceUrl}'.";
            }

            if (string.IsNullOrEmpty(storage.S3.AccessKey) != string.IsNullOrEmpty(storage.S3.SecretKey))
            {
                yield return "Storage:S3:AccessKey and Storage:S3:SecretKey go together: set both, or neither for the SDK's default credentials.";
            }
        }

        if (routing.Bus is not ("in-process" or "redis"))
        {
            yield return $"Routing:Bus must be 'in-process' or 'redis'; got '{routing.Bus}'.";
        }
        else if (routing.Bus == "redis" && string.IsNullOrWhiteSpace(routing.Redis.Configuration))
        {
            yield return "Routing:Redis:Configuration is required when Routing:Bus is 'redis' (e.g. 127.0.0.1:6379).";
        }

        if (routing.Redis.PresenceLeaseMs < 1000 || routing.Redis.PresenceRefreshMs < 100 || routing.Redis.PresenceRefreshMs * 3 > routing.Redis.PresenceLeaseMs)
        {
            yield return $"Routing:Redis:PresenceLeaseMs must be at least 1000 and PresenceRefreshMs at least 100 and at most a third of it; got {routing.Redis.PresenceLeaseMs} and {routing.Redis.PresenceRefreshMs}.";
        }
    }

    private static bool IsValidMySql(string connectionString, out string problem)
    {
        try
        {
            _ = new MySqlConnector.MySqlConnectionStringBuilder(connectionString);
            problem = "";
            return true;
        }
        catch (ArgumentException ex)
        {
            problem = ex.Message;
            return false;
        }
    }
}

internal static class AttachmentsOptionsValidation
{
    public static IEnumerable<string> Validate(AttachmentsOptions options)
    {
        if (options.MaxBytes < 1)
        {
            yield return $"Attachments:MaxBytes must be at least 1; got {options.MaxBytes}.";
        }

        if (options.QuotaBytes < 0)
        {
            yield return $"Attachments:QuotaBytes must be 0 (no quota) or positive; got {options.QuotaBytes}.";
        }

        // S3 refuses presigned URLs that last longer than 7 days.
        foreach (var (key, value) in new[] { ("UploadExpirySeconds", options.UploadExpirySeconds), ("DownloadExpirySeconds", options.DownloadExpirySeconds) })
        {
            if (value is < 1 or > 7 * 24 * 3600)
            {
                yield return $"Attachments:{key} must be between 1 and 604800 (7 days); got {value}.";
            }
        }

        if (options.SweepIntervalSeconds < 1)
        {
            yield return $"Attachments:SweepIntervalSeconds must be at least 1; got {options.SweepIntervalSeconds}.";
        }
    }
}
