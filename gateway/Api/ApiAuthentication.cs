using ChatWire.Gateway.Accounts;
using ChatWire.Protocol;

namespace ChatWire.Gateway.Api;

/// <summary>Bearer-token authentication for the authenticated route group, and the accessors handlers use.</summary>
internal static class ApiAuthentication
{
    private static readonly object IdentityKey = new();

    public static async ValueTask<object?> RequireSessionAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var header = http.Request.Headers.Authorization.ToString();
        const string Scheme = "Bearer ";
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(ErrorCode.NotAuthenticated, "Send the session token as 'Authorization: Bearer <token>'.");
        }

        var authenticator = http.RequestServices.GetRequiredService<SessionAuthenticator>();
        var (identity, error) = await authenticator.AuthenticateAsync(header[Scheme.Length..].Trim(), deviceId: null, http.RequestAborted);
        if (identity is null)
        {
            throw new ApiException(error, error switch
            {
                ErrorCode.SessionExpired => "The session has expired; log in again.",
                ErrorCode.SessionRevoked => "The session was revoked; log in again.",
                _ => "The session token is not valid.",
            });
        }

        http.Items[IdentityKey] = identity;
        return await next(context);
    }

    public static SessionIdentity Identity(this HttpContext http) =>
        http.Items[IdentityKey] as SessionIdentity ?? throw new InvalidOperationException("Endpoint is not in the authenticated group.");

    public static string? ClientAddress(this HttpContext http) => http.Connection.RemoteIpAddress?.ToString();
}
