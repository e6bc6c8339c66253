using System.Globalization;
using ChatWire.Gateway.Admission;
using ChatWire.Gateway.Hosting;
using ChatWire.Protocol;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Api;

/// <summary>
/// The API's request budget (docs/http-api.md, "Rate limits"): every <c>/v1/</c> request is charged to its
/// account; one to an anonymous endpoint (server info, sign-up, login) to its client address; and one whose token is
/// missing or refused to the address's <see cref="RefusedTokenBudget"/>, which the protocol's AUTH shares. That one
/// is checked before any token from the address is looked up, so that a flood of made-up tokens stops reaching the
/// store once it is spent; while it is, requests from the address with valid tokens are refused too (as a
/// fail2ban-style block would), which clients that keep their tokens valid never cause: spending it takes a
/// minute's allowance of bad tokens. Blob URLs are signed, short-lived links and are not charged: a bad signature
/// costs no store read, a good one a directory read (docs/security.md, "The HTTP API").
/// Each key may make a minute's allowance at once and then one request every 60/N seconds (a token bucket that
/// holds N and refills smoothly). Every answer says where its key stands in the draft IETF headers
/// <c>RateLimit-Policy: "account";q=N;w=60</c> and <c>RateLimit: "account";r=REMAINING;t=SECONDS</c>, where
/// <c>t</c> is the time until the budget is whole again; a refusal is 429 RATE_LIMITED with Retry-After.
/// Counted on each node: behind a load balancer, N is per node.
/// </summary>
internal sealed class ApiRequestBudget : IDisposable
{
    private readonly KeyBudget? _accounts;
    private readonly KeyBudget? _addresses;
    private readonly KeyBudget? _refused;

    public ApiRequestBudget(IOptions<LimitsOptions> options, RefusedTokenBudget refused, TimeProvider time)
    {
        var o = options.Value;
        _accounts = o.ApiRequestsPerMinutePerUser > 0 ? new KeyBudget("account", o.ApiRequestsPerMinutePerUser, time) : null;
        _addresses = o.ApiRequestsPerMinutePerAddress > 0 ? new KeyBudget("address", o.ApiRequestsPerMinutePerAddress, time) : null;
        _refused = refused.Budget;
    }

    /// <summary>Charges a request made with a valid session to its account.</summary>
    /// <exception cref="RequestRefusedException">RATE_LIMITED: the account's budget is spent.</exception>
    public void ChargeAccount(HttpContext http, Guid userId) =>
        Charge(http, _accounts, userId.ToString("N"));

    /// <summary>
    /// Middleware, before the account endpoints' own gate: charges a request to an anonymous endpoint (not a blob
    /// URL) to its client address (IPv6 by /64), so that the gate's refusals report the budget too.
    /// </summary>
    public static Task ChargeAnonymousAsync(HttpContext http, RequestDelegate next)
    {
        var path = http.Request.Path;
        if (path.StartsWithSegments("/v1") && ApiAuthentication.IsAnonymous(path)
            && !path.StartsWithSegments(ApiAuthentication.BlobsPath, StringComparison.OrdinalIgnoreCase))
        {
            ChargeAddressOnce(http);
        }

        return next(http);
    }

    /// <summary>
    /// Middleware, before CORS answers a browser's preflight: counts the preflight of a <c>/v1/</c> request against its
    /// client address's anonymous budget, like any other request without a session, but never refuses it. A browser
    /// takes any preflight answer but a 2xx as a network error, so a page refused here could not read Retry-After;
    /// the request the preflight announces is charged in its turn and refused, with the CORS headers and Retry-After
    /// the page can read. Answering a preflight costs the server no more than refusing it would.
    /// </summary>
    public static Task ChargePreflightAsync(HttpContext http, RequestDelegate next)
    {
        if (HttpMethods.IsOptions(http.Request.Method) && http.Request.Headers.ContainsKey("Access-Control-Request-Method")
            && http.Request.Path.StartsWithSegments("/v1"))
        {
            ChargeAddressOnce(http, refuse: false);
        }

        return next(http);
    }

    /// <summary>
    /// Charges a request to its client address's anonymous budget unless a budget has charged it already: an
    /// anonymous endpoint's request, a browser's preflight, or a request refused before anything charged it (a target
    /// whose dot segments climb out of <c>/v1/</c>, which the server resolves before the budget sees it). With
    /// <paramref name="refuse"/> false the request is counted but never refused (a preflight).
    /// </summary>
    public static void ChargeAddressOnce(HttpContext http, bool refuse = true)
    {
        if (!http.Items.ContainsKey(ChargedItem))
        {
            Charge(http, http.RequestServices.GetRequiredService<ApiRequestBudget>()._addresses, http.ClientKey(), refuse);
        }
    }

    /// <summary>Before a token is looked up: refuses it at once when its address has sent too many bad ones.</summary>
    /// <exception cref="RequestRefusedException">RATE_LIMITED: the address's budget of refused tokens is spent.</exception>
    public void ThrowIfTokensRefusedTooOften(HttpContext http)
    {
        if (_refused?.Peek(http.ClientKey()) is { Allowed: false } spent)
        {
            Report(http, _refused, spent);
            throw Refusal(spent);
        }
    }

    /// <summary>Charges a request whose token is missing or refused to its address's budget of refused tokens.</summary>
    /// <exception cref="RequestRefusedException">RATE_LIMITED: that budget is spent.</exception>
    public void ChargeRefusedToken(HttpContext http) =>
        Charge(http, _refused, http.ClientKey());

    public void Dispose()
    {
        _accounts?.Dispose();
        _addresses?.Dispose();
    }

    private static void Charge(HttpContext http, KeyBudget? budget, string key, bool refuse = true)
    {
        if (budget is null)
        {
            return;
        }

        http.Items[ChargedItem] = budget;
        var charge = budget.Take(key);
        Report(http, budget, charge);
        if (!charge.Allowed && refuse)
        {
            throw Refusal(charge);
        }
    }

    // Marks a request that one budget has charged, so that nothing charges it twice.
    private const string ChargedItem = "chatwire.api_budget";

    private static RequestRefusedException Refusal(BudgetCharge charge) =>
        new(ErrorCode.RateLimited, "Too many API requests; retry after the seconds in Retry-After.", retryAfterSeconds: charge.RetryAfterSeconds);

    // Set as the headers go out: an error answer starts from a cleared response and must carry them too.
    private static void Report(HttpContext http, KeyBudget budget, BudgetCharge charge)
    {
        var policy = string.Create(CultureInfo.InvariantCulture, $"\"{budget.Name}\";q={budget.PerMinute};w=60");
        var state = string.Create(CultureInfo.InvariantCulture, $"\"{budget.Name}\";r={charge.Remaining};t={charge.SecondsUntilWhole}");
        http.Response.OnStarting(static s =>
        {
            var (response, policy, state) = ((HttpResponse, string, string))s;
            response.Headers["RateLimit-Policy"] = policy;
            response.Headers["RateLimit"] = state;
            return Task.CompletedTask;
        }, (http.Response, policy, state));
    }
}
