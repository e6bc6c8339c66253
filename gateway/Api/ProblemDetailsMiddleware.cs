using System.Globalization;
using System.Text.Json;
using ChatWire.Protocol;

namespace ChatWire.Gateway.Api;

/// <summary>
/// Renders every failure as application/problem+json carrying the shared code's number and name. Every
/// detail is a fixed sentence of ours: no framework or library text (type names, parser messages) reaches
/// a client.
/// </summary>
internal sealed class ProblemDetailsMiddleware(RequestDelegate next, ILogger<ProblemDetailsMiddleware> logger)
{
    private static readonly JsonSerializerOptions ProblemJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);

            // Routing answers a path it does not know (404), a method the path does not take (405, with
            // Allow) or a body type it does not accept (415), and the body reader a body over the endpoint's
            // limit (413), with a bare status: give it a body like every other error.
            if (!context.Response.HasStarted && context.Response.StatusCode is 404 or 405 or 413 or 415 && context.Response.ContentType is null)
            {
                var (code, detail) = context.Response.StatusCode switch
                {
                    404 => (ErrorCode.NotFound, "No such endpoint."),
                    405 => (ErrorCode.MethodNotAllowed, "This path does not take this method; the Allow header lists the ones it takes."),
                    413 => (ErrorCode.ValidationFailed, TooLargeDetail),
                    _ => (ErrorCode.UnsupportedMediaType, UnsupportedMediaTypeDetail),
                };
                await WriteAsync(context, code, detail, null, null, status: context.Response.StatusCode);
            }
        }
        catch (RequestRefusedException ex) when (!context.Response.HasStarted)
        {
            await WriteAsync(context, ex.Code, ex.Message, ex.RetryAfterSeconds, ex.Errors, ex.Mismatch);
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            var (code, detail) = Describe(ex, context.Request);
            await WriteAsync(context, code, detail, null, FieldOf(ex), status: ex.StatusCode == StatusCodes.Status413PayloadTooLarge ? ex.StatusCode : null);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
        catch (IOException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away while its request was read (a reset connection mid-body): nobody is left to answer,
            // and it is no fault of the server's, so neither a 500 nor an error line.
        }
        catch (ChatWire.Storage.AccountDeletedException) when (!context.Response.HasStarted)
        {
            // The account was deleted while this request ran (after its session check): nothing was written, and the
            // session is gone with the account, as the next request would be told.
            await WriteAsync(context, ErrorCode.SessionRevoked, "The account was deleted while the request ran; nothing was changed.", null, null);
        }
        catch (Exception ex) when (!context.Response.HasStarted && ChatWire.Storage.StoreFaults.IsMissingReference(ex))
        {
            // A race the request's own checks could not see: what it refers to was deleted by another request meanwhile.
            // Logged, since a write naming a wrong id would look the same.
            GatewayLog.RequestRacedDeletion(logger, context.Request.Method, context.Request.Path, ex);
            await WriteAsync(context, ErrorCode.NotFound, "What this request refers to (a team, channel or conversation) was deleted while it ran; nothing was changed.", null, null);
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
        ErrorCode.NotAMember or ErrorCode.Forbidden or ErrorCode.QuotaExceeded or ErrorCode.AccountDisabled => StatusCodes.Status403Forbidden,
        ErrorCode.NotFound => StatusCodes.Status404NotFound,
        ErrorCode.MethodNotAllowed => StatusCodes.Status405MethodNotAllowed,
        ErrorCode.AlreadyExists or ErrorCode.IdempotencyConflict or ErrorCode.StaleEpoch or ErrorCode.DistributionMismatch
            or ErrorCode.KeyVersionConflict or ErrorCode.KeyConflict => StatusCodes.Status409Conflict,
        ErrorCode.FrameTimeout => StatusCodes.Status408RequestTimeout,
        ErrorCode.InviteInvalid => StatusCodes.Status410Gone,
        ErrorCode.UnsupportedMediaType => StatusCodes.Status415UnsupportedMediaType,
        ErrorCode.UploadMismatch => StatusCodes.Status422UnprocessableEntity,
        ErrorCode.RateLimited => StatusCodes.Status429TooManyRequests,
        ErrorCode.ServerBusy or ErrorCode.StorageUnavailable or ErrorCode.ShuttingDown => StatusCodes.Status503ServiceUnavailable,
        ErrorCode.InternalError => StatusCodes.Status500InternalServerError,
        _ => StatusCodes.Status400BadRequest,
    };

    /// <summary>What a problem's <c>type</c> starts with; the error's name follows.</summary>
    public const string TypePrefix = "urn:chatwire:error:";

    private const string TooLargeDetail = "The request body is larger than this endpoint takes (docs/http-api.md, Conventions, \"Body size\").";

    public const string NotAJsonObjectDetail = "The request body is not a JSON object with the fields this endpoint takes, each of its documented type.";

    public const string UnsupportedMediaTypeDetail = "Send the request body as JSON, with the header Content-Type: application/json (UTF-8).";

    /// <summary>The <see cref="HttpContext.Items"/> key under which the answered error code is left for the metrics.</summary>
    public const string ErrorCodeItem = "chatwire.error_code";

    /// <summary>Writes the problem for <paramref name="code"/>, with its status (<see cref="StatusFor"/>) unless <paramref name="status"/> names another.</summary>
    public static async Task WriteAsync(HttpContext context, ErrorCode code, string detail, int? retryAfterSeconds, IReadOnlyDictionary<string, string[]>? errors, DistributionMismatch? mismatch = null, int? status = null)
    {
        context.Items[ErrorCodeItem] = code;
        var answered = status ?? StatusFor(code);
        var name = ErrorCodes.Name(code);
        var allow = context.Response.Headers.Allow;
        context.Response.Clear();
        if (answered == StatusCodes.Status405MethodNotAllowed)
        {
            // Every path that takes GET takes HEAD too (HttpPipeline answers it as GET), which routing does not list.
            var methods = allow.ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            context.Response.Headers.Allow = methods.Any(HttpMethods.IsGet) && !methods.Any(HttpMethods.IsHead) ? string.Join(", ", [.. methods, HttpMethods.Head]) : allow;
        }

        context.Response.StatusCode = answered;
        context.Response.ContentType = ApiDocs.ProblemContentType;
        if (retryAfterSeconds is { } retry)
        {
            context.Response.Headers.RetryAfter = retry.ToString(CultureInfo.InvariantCulture);
        }

        if (code == ErrorCode.FrameTimeout)
        {
            // The rest of a body that did not arrive in time is not waited for: the connection ends with this answer.
            context.Response.Headers.Connection = "close";
        }

        var problem = new ApiProblem(TypePrefix + name, Title(name), answered, detail, (int)code, name, errors, mismatch?.Missing, mismatch?.Extra, mismatch?.Stale);
        await context.Response.WriteAsync(JsonSerializer.Serialize(problem, ProblemJson), context.RequestAborted);
    }

    // What the framework refused while reading the request, told in our words.
    private static (ErrorCode Code, string Detail) Describe(BadHttpRequestException ex, HttpRequest request) => ex.StatusCode switch
    {
        StatusCodes.Status415UnsupportedMediaType => (ErrorCode.UnsupportedMediaType, UnsupportedMediaTypeDetail),
        StatusCodes.Status413PayloadTooLarge => (ErrorCode.ValidationFailed, TooLargeDetail),

        // Kestrel's minimum body rate (240 bytes a second on average, after 5 s): a body that stalls is cut off before
        // the body deadline, and gets the same answer.
        StatusCodes.Status408RequestTimeout => (ErrorCode.FrameTimeout, "The request body arrived too slowly (under 240 bytes a second); send it again, whole."),
        _ when ex.InnerException is JsonException => (ErrorCode.ValidationFailed, NotAJsonObjectDetail),
        _ when request.ContentLength is null or 0 && request.Headers.TransferEncoding.Count == 0 =>
            (ErrorCode.ValidationFailed, "The request body is missing; send a JSON object."),
        _ => (ErrorCode.ValidationFailed, "The request could not be read."),
    };

    // The field a JSON body's value could not be read into (a number out of its type's range, a string where an
    // object goes), from the reader's path: "$.prekey_id" names prekey_id, "$.entries[3].user_id" that entry's
    // field. Null when the body as a whole is at fault: not an object, or not JSON at all, which the reader reports
    // with the path it had reached (a body cut off after "{\"name\":" says "$.name") and the syntax error within.
    private static Dictionary<string, string[]>? FieldOf(BadHttpRequestException ex) =>
        ex.InnerException is JsonException { Path: { Length: > 2 } path, InnerException: not JsonException } && path.StartsWith("$.", StringComparison.Ordinal)
            ? new Dictionary<string, string[]>(StringComparer.Ordinal)
            {
                [path[2..]] = ["This value is not of the field's documented type, or is out of its range."],
            }
            : null;

    /// <summary>A problem's <c>title</c>: the error's name as words, e.g. "Not a member".</summary>
    public static string Title(string name)
    {
        var words = name.ToLowerInvariant().Replace('_', ' ');
        return char.ToUpperInvariant(words[0]) + words[1..];
    }
}
