using ChatWire.Gateway.Accounts;
using Microsoft.AspNetCore.Http.Features;

namespace ChatWire.Gateway.Api;

/// <summary>
/// In front of <c>/v1/accounts/*</c>: bodies there are smaller (16 KiB: a name and a password), and sign-up
/// and login pay the client address's attempt throttle before their body is read, so a refused flood costs
/// no parsing at all. The handlers then check the account's own limits.
/// </summary>
internal static class AccountRequestGate
{
    /// <summary>The largest body any <c>/v1/accounts/*</c> request may have.</summary>
    public const long MaxBodyBytes = 16 * 1024;

    public static async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var path = context.Request.Path;
        if (path.StartsWithSegments("/v1/accounts"))
        {
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            {
                size.MaxRequestBodySize = MaxBodyBytes;
            }

            if (HttpMethods.IsPost(context.Request.Method) && Action(path) is { } action)
            {
                // A draining node takes no new sessions: the client logs in on another node (docs/operations.md).
                if (context.RequestServices.GetRequiredService<Hosting.GatewayDrain>().IsDraining)
                {
                    throw new RequestRefusedException(Protocol.ErrorCode.ShuttingDown, "This node is shutting down; sign up or log in on another node.", retryAfterSeconds: 1);
                }

                context.RequestServices.GetRequiredService<AttemptThrottle>().CheckAddress(action, context.ClientAddress());
            }
        }

        await next(context);
    }

    // As routing matches them (any case, trailing slash), or a request could reach the handler unthrottled.
    private static string? Action(PathString path) =>
        ApiAuthentication.IsPath(path, ApiAuthentication.SignupPath) ? "signup"
        : ApiAuthentication.IsPath(path, ApiAuthentication.LoginPath) ? "login"
        : null;
}
