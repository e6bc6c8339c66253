using ChatWire.Gateway.Accounts;
using ChatWire.Protocol;

namespace ChatWire.Gateway.Api;

/// <summary>Bearer-token authentication for the API, and the accessors handlers use.</summary>
internal static class ApiAuthentication
{
    private static readonly object IdentityKey = new();

    /// <summary>
    /// Authenticates every <c>/v1/</c> request but the anonymous ones, before routing binds a body: a
    /// request without a valid token is 401 whatever else is wrong with it (429 once its address has sent too many
    /// such requests). Then charges the request to the account (<see cref="ApiRequestBudget"/>).
    /// </summary>
    public static async Task RequireSessionAsync(HttpContext http, RequestDelegate next)
    {
        if (!http.Request.Path.StartsWithSegments("/v1"))
        {
            await next(http);
            return;
        }

        if (IsAnonymous(http.Request.Path))
        {
            // Charged before the account endpoints' gate (ApiRequestBudget.ChargeAnonymousAsync), or not at all (blobs).
            await next(http);
            return;
        }

        // An address that has sent too many bad tokens is refused before its next one reaches the store.
        var budget = http.RequestServices.GetRequiredService<ApiRequestBudget>();
        budget.ThrowIfTokensRefusedTooOften(http);

        var header = http.Request.Headers.Authorization.ToString();
        const string Scheme = "Bearer ";
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            budget.ChargeRefusedToken(http);
            throw new RequestRefusedException(ErrorCode.NotAuthenticated, "Send the session token as 'Authorization: Bearer <token>'.");
        }

        var authenticator = http.RequestServices.GetRequiredService<SessionAuthenticator>();
        var (identity, error) = await authenticator.AuthenticateAsync(header[Scheme.Length..].Trim(), deviceId: null, http.RequestAborted);
        if (identity is null)
        {
            budget.ChargeRefusedToken(http);
            throw new RequestRefusedException(error, SessionAuthenticator.Describe(error));
        }

        budget.ChargeAccount(http, identity.UserId);
        using var slot = http.RequestServices.GetRequiredService<AccountRequestsInProgress>().Enter(identity.UserId);
        http.Items[IdentityKey] = identity;
        await next(http);
    }

    public const string SignupPath = "/v1/accounts/signup";

    public const string LoginPath = "/v1/accounts/login";

    /// <summary>The endpoints that take no session token (the blob endpoints are authorised by their URL's token).</summary>
    public static bool IsAnonymous(PathString path) =>
        IsPath(path, "/v1/server-info") || IsPath(path, SignupPath) || IsPath(path, LoginPath) || path.StartsWithSegments(BlobsPath, StringComparison.OrdinalIgnoreCase);

    public const string BlobsPath = "/v1/blobs";

    /// <summary>Whether <paramref name="path"/> is the route <paramref name="route"/> as routing matches it: any case, a trailing slash or not.</summary>
    public static bool IsPath(PathString path, string route) =>
        (path.Value ?? string.Empty).TrimEnd('/').Equals(route, StringComparison.OrdinalIgnoreCase);

    public static SessionIdentity Identity(this HttpContext http) =>
        http.Items[IdentityKey] as SessionIdentity ?? throw new InvalidOperationException("Endpoint is not in the authenticated group.");

    /// <summary>The request's session, when it has one (checked before its body was read).</summary>
    public static SessionIdentity? IdentityIfAny(this HttpContext http) => http.Items[IdentityKey] as SessionIdentity;

    /// <summary>The client's address as throttles count it (IPv6 by /64; behind a trusted proxy, from X-Forwarded-For).</summary>
    public static string? ClientAddress(this HttpContext http) => Admission.ClientAddress.Key(http.Connection.RemoteIpAddress);

    /// <summary>The client address key, or "?" when the transport has none (throttles and fair shares count under it).</summary>
    public static string ClientKey(this HttpContext http) => http.ClientAddress() ?? "?";
}
