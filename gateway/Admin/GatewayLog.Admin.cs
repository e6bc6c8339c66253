namespace ChatWire.Gateway;

// Event id 90: the management API refused a request's token (the operator's actions themselves are audit lines,
// Observability.AuditLog event 208).
internal static partial class GatewayLog
{
    [LoggerMessage(EventId = 90, Level = LogLevel.Warning, Message = "A management API request with a missing or wrong admin token from {Client}")]
    public static partial void AdminTokenRefused(ILogger logger, string client);
}
