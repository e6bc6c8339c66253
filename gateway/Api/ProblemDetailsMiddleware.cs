using System.Globalization;
using System.Text.Json;
using ChatWire.Protocol;

namespace ChatWire.Gateway.Api;

/// <summary>Renders every failure as application/problem+json carrying the shared code's number and name.</summary>
internal sealed class ProblemDetailsMiddleware(RequestDelegate next, ILogger<ProblemDetailsMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (ApiException ex) when (!context.Response.HasStarted)
        {
            await WriteAsync(context, ex.Code, ex.Message, ex.RetryAfterSeconds, ex.Errors);
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            await WriteAsync(context, ErrorCode.ValidationFailed, ex.InnerException is JsonException ? "The request body is not valid JSON for this endpoint." : ex.Message, null, null);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            GatewayLog.RequestFault(logger, context.Request.Method, context.Request.Path, ex);
            await WriteAsync(context, ErrorCode.InternalError, "The server failed to handle the request.", null, null);
        }
    }

    public static int StatusFor(ErrorCode code) => code switch
    {
        ErrorCode.InvalidToken or ErrorCode.SessionExpired or ErrorCode.SessionRevoked or ErrorCode.NotAuthenticated
            or ErrorCode.InvalidCredentials => StatusCodes.Status401Unauthorized,
        ErrorCode.NotAMember or ErrorCode.Forbidden => StatusCodes.Status403Forbidden,
        ErrorCode.NotFound => StatusCodes.Status404NotFound,
        ErrorCode.AlreadyExists or ErrorCode.IdempotencyConflict => StatusCodes.Status409Conflict,
        ErrorCode.InviteInvalid => StatusCodes.Status410Gone,
        ErrorCode.RateLimited => StatusCodes.Status429TooManyRequests,
        ErrorCode.ServerBusy or ErrorCode.StorageUnavailable or ErrorCode.ShuttingDown => StatusCodes.Status503ServiceUnavailable,
        ErrorCode.InternalError => StatusCodes.Status500InternalServerError,
        _ => StatusCodes.Status400BadRequest,
    };

    public static async Task WriteAsync(HttpContext context, ErrorCode code, string detail, int? retryAfterSeconds, IReadOnlyDictionary<string, string[]>? errors)
    {
        var status = StatusFor(code);
        var name = ErrorCodes.Name(code);
        context.Response.Clear();
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/problem+json";
        if (retryAfterSeconds is { } retry)
        {
            context.Response.Headers.RetryAfter = retry.ToString(CultureInfo.InvariantCulture);
        }

        var problem = new Dictionary<string, object?>
        {
            ["type"] = "urn:chatwire:error:" + name,
            ["title"] = Title(name),
            ["status"] = status,
            ["detail"] = detail,
            ["code"] = (int)code,
            ["name"] = name,
        };
        if (errors is not null)
        {
            problem["errors"] = errors;
        }

        await context.Response.WriteAsync(JsonSerializer.Serialize(problem), context.RequestAborted);
    }

    private static string Title(string name)
    {
        var words = name.ToLowerInvariant().Replace('_', ' ');
        return char.ToUpperInvariant(words[0]) + words[1..];
    }
}
