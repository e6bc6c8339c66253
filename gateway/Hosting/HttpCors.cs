namespace ChatWire.Gateway.Hosting;

/// <summary>
/// Cross-origin access to the HTTP API for web clients (<c>Gateway:CorsOrigins</c>; docs/http-api.md, "Browsers"),
/// by ASP.NET Core's CORS middleware: it answers a preflight from an allowed origin itself, and adds its headers
/// to the answer as it goes out, so a problem+json refusal (which starts from a cleared response) carries them too
/// and the page can read why it was refused. Off while the list is empty.
/// </summary>
internal static class HttpCors
{
    /// <summary>The response headers a page may read beyond the safelisted ones: the request budget and when to retry.</summary>
    public static readonly string[] ExposedHeaders = ["RateLimit", "RateLimit-Policy", "Retry-After", "Location"];

    public static void AddServices(IServiceCollection services, IReadOnlyList<string> origins)
    {
        if (origins.Count == 0)
        {
            return;
        }

        services.AddCors(options => options.AddDefaultPolicy(policy =>
        {
            if (origins.Contains("*"))
            {
                policy.AllowAnyOrigin();
            }
            else
            {
                policy.WithOrigins([.. origins]);
            }

            // No AllowCredentials: the session is a bearer token a page sends explicitly, never a cookie.
            policy.WithMethods("GET", "POST", "PUT", "PATCH", "DELETE")
                .WithHeaders("Authorization", "Content-Type")
                .WithExposedHeaders(ExposedHeaders)
                .SetPreflightMaxAge(TimeSpan.FromMinutes(10));
        }));
    }

    /// <summary>
    /// On the API and its document only: the management listener's endpoints (metrics, health, admin) are for an
    /// operator's tools, never for a page. An answer that depends on the request's Origin says so (Vary: Origin), for
    /// any cache between the page and the server; the CORS middleware itself adds it only with several origins.
    /// </summary>
    public static void Use(WebApplication app, IReadOnlyList<string> origins)
    {
        if (origins.Count == 0)
        {
            return;
        }

        var any = origins.Contains("*");
        app.UseWhen(
            static context => context.Request.Path.StartsWithSegments("/v1") || context.Request.Path.StartsWithSegments("/openapi"),
            branch =>
            {
                if (!any)
                {
                    branch.Use(static (context, next) =>
                    {
                        context.Response.OnStarting(static state =>
                        {
                            var headers = ((HttpResponse)state).Headers;
                            if (!headers.Vary.Any(v => v?.Contains("Origin", StringComparison.OrdinalIgnoreCase) == true))
                            {
                                headers.Append("Vary", "Origin");
                            }

                            return Task.CompletedTask;
                        }, context.Response);
                        return next(context);
                    });
                }

                branch.UseCors();
            });
    }

    /// <summary>Whether <paramref name="origin"/> is <c>*</c> or an http(s) origin: scheme, host and optional port, nothing else.</summary>
    public static bool IsOrigin(string origin) =>
        origin == "*"
        || (Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp)
            && string.IsNullOrEmpty(uri.UserInfo)
            && uri.PathAndQuery == "/" && string.IsNullOrEmpty(uri.Fragment)
            && string.Equals(uri.GetLeftPart(UriPartial.Authority), origin, StringComparison.OrdinalIgnoreCase));
}
