using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace ChatWire.Gateway.Api;

/// <summary>
/// Shapes <c>/openapi/v1.json</c>: what the API is, its bearer scheme (every operation but the anonymous
/// ones requires it and can answer 401), tag descriptions, and the types our converters write. The test
/// command lints the document with Redocly's recommended rules (test.sh).
/// </summary>
internal static class OpenApiDocumentation
{
    private const string Bearer = "bearer";

    private static readonly Dictionary<string, string> Tags = new()
    {
        ["Server"] = "What a client needs to know before it connects.",
        ["Accounts"] = "Sign-up, login, password, and the device sessions a user holds.",
        ["Teams"] = "Teams, their members (mention candidates), invites and per-member mute.",
        ["Attachments"] = "End-to-end encrypted attachments: an upload grant for the ciphertext, the server's check of what was uploaded, and short-lived download URLs for the conversation's members. The server never sees the plaintext.",
        ["Conversations"] = "Channels, direct and group messages, and the list of conversations a user is in. Messages themselves travel over the TCP protocol (docs/protocol.md).",
        ["Push"] = "Where this device's push notifications go (APNs, FCM, or an https webhook whose requests are signed with HMAC-SHA256) and the "
            + "user's notification settings: a level overall and per conversation, and do-not-disturb. A few seconds after a message is stored, "
            + "each member whose level lets it through and who has neither received nor read it on any device is notified on every registered "
            + "device; notifications carry ids and counts only, never message content.",
        ["Keys"] = "The end-to-end key directory: public keys, signed device lists, prekeys, device linking, recovery backups, and each conversation's key state and sealed sender-chain seeds (docs/e2e.md). The server stores public or sealed material only.",
    };

    /// <summary>The response headers the API sends on many answers, defined once under components.headers.</summary>
    private static readonly Dictionary<string, OpenApiHeader> SharedHeaders = new()
    {
        ["Retry-After"] = new OpenApiHeader
        {
            Description = "Seconds to wait before trying again (RATE_LIMITED, SERVER_BUSY, a refused connection).",
            Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "1", Maximum = "86400" },
        },
        ["Access-Control-Allow-Origin"] = new OpenApiHeader
        {
            Description = "Only to a browser's request from a web origin the operator allows (Gateway:CorsOrigins): that origin, or * when any is allowed; absent otherwise.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 2048, Pattern = "^(\\*|https?://[^/]+)$" },
        },
        ["RateLimit-Policy"] = new OpenApiHeader
        {
            Description = "The request budget this request was charged to (IETF draft RateLimit header fields), e.g. \"account\";q=1200;w=60: "
                + "q requests per w seconds: account with a session, address for the anonymous endpoints, refused-token for a missing or refused token (both per client address); absent when the server's budget is off.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 64, Pattern = "^\"(account|address|refused-token)\";q=[0-9]{1,10};w=60$" },
        },
        ["RateLimit"] = new OpenApiHeader
        {
            Description = "Where that budget stands after this request, e.g. \"account\";r=1187;t=11: r requests left, t seconds until it is whole again.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 64, Pattern = "^\"(account|address|refused-token)\";r=[0-9]{1,10};t=[0-9]{1,10}$" },
        },
    };

    /// <summary>Adds a reference to the shared header <paramref name="name"/> to <paramref name="response"/>, defining it on first use.</summary>
    private static void AddHeader(OpenApiResponse response, string name, OpenApiDocument? document)
    {
        if (document is not null)
        {
            document.Components ??= new OpenApiComponents();
            document.Components.Headers ??= new Dictionary<string, IOpenApiHeader>();
            document.Components.Headers.TryAdd(name, SharedHeaders[name]);
        }

        response.Headers ??= new Dictionary<string, IOpenApiHeader>();
        response.Headers[name] = new OpenApiHeaderReference(name, document);
    }

    /// <summary>A problem+json answer with this description.</summary>
    private static OpenApiResponse Problem(string description, OpenApiDocument? document) => new()
    {
        Description = description,
        Content = new Dictionary<string, OpenApiMediaType>
        {
            [ApiDocs.ProblemContentType] = new OpenApiMediaType { Schema = new OpenApiSchemaReference(nameof(ApiProblem), document) },
        },
    };

    public static void Configure(OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "ChatWire HTTP API",
                Version = "v1",
                Description = "Accounts, sessions, teams, channels and direct messages of a ChatWire server. Errors are application/problem+json carrying a code from one table shared with the TCP protocol. Real-time messaging is the TCP protocol of docs/protocol.md.",

                // No address of ours is known: the server is run by its operator, and the documentation ships with it (docs/http-api.md).
                Contact = new OpenApiContact { Name = "ChatWire" },
            };

            // Relative: the document is served by the API listener it describes, whatever name it was reached by.
            // Public (x-internal false): the API is meant for third-party clients, whatever environment the operator
            // runs the node in.
            document.Servers =
            [
                new OpenApiServer
                {
                    Url = "/",
                    Description = "The API listener that served this document, in whichever environment its operator runs it (local, staging or production).",
                    Extensions = new Dictionary<string, IOpenApiExtension> { ["x-internal"] = new JsonNodeExtension(System.Text.Json.Nodes.JsonValue.Create(false)) },
                },
            ];
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[Bearer] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "The session_token from signup or login: 'Authorization: Bearer <session_token>'.",
            };
            document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(Bearer, document)] = [] }];
            document.Tags = new HashSet<OpenApiTag>(Tags.Select(t => new OpenApiTag { Name = t.Key, Description = t.Value }));
            return Task.CompletedTask;
        });

        options.AddOperationTransformer((operation, context, _) =>
        {
            var path = "/" + (context.Description.RelativePath ?? string.Empty);
            operation.Responses ??= [];
            if (ApiAuthentication.IsAnonymous(path))
            {
                operation.Security = [];
            }
            else
            {
                operation.Responses["401"] = Problem(
                    "No usable session token: NOT_AUTHENTICATED (missing or malformed header), INVALID_TOKEN, SESSION_EXPIRED or SESSION_REVOKED.", context.Document);
            }

            // The embedded blob store's upload reads the raw body, whatever its Content-Type (routing metadata
            // such as Accepts would refuse other types): the document says what a client sends.
            if (operation.OperationId == "uploadBlob")
            {
                operation.RequestBody = new OpenApiRequestBody
                {
                    Required = true,
                    Description = "The attachment's ciphertext, exactly the size and SHA-256 the upload grant was made for.",
                    Content = new Dictionary<string, OpenApiMediaType>
                    {
                        ["application/octet-stream"] = new OpenApiMediaType
                        {
                            Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary", MaxLength = (int)Math.Min(OpenApiLimits.MaxAttachmentBytes(context.ApplicationServices), int.MaxValue) },
                        },
                    },
                };
            }

            // Every body is bounded (docs/http-api.md, "Body size"), a body sent to an operation that takes none too, so
            // every operation may answer 413.
            if (operation.OperationId != "uploadBlob" && !operation.Responses.ContainsKey("413"))
            {
                operation.Responses["413"] = Problem(
                    operation.RequestBody is not null
                        ? "The body is larger than this endpoint takes (64 KiB; 16 KiB under /v1/accounts/; 512 KiB for a key bundle): VALIDATION_FAILED."
                        : "This endpoint takes no body, but one sent anyway is read and dropped; larger than 64 KiB (16 KiB under /v1/accounts/) it is refused: VALIDATION_FAILED.",
                    context.Document);
            }

            // Every /v1/ request but a blob URL's is charged to the API's request budget (docs/http-api.md, "Rate
            // limits"), so any of them may be refused 429; and any may meet a fault of the server, answered 500.
            var charged = path.StartsWith("/v1/", StringComparison.Ordinal) && !path.StartsWith(ApiAuthentication.BlobsPath + "/", StringComparison.Ordinal);
            if (charged)
            {
                operation.Responses.TryAdd("429", Problem("The request budget of the account (or, without a session, of the client address) is spent, or a throttle of this endpoint refused it: RATE_LIMITED, with Retry-After.", context.Document));
            }

            // An operation that takes nothing to validate still has the refusals every path has.
            if (!operation.Responses.ContainsKey("400") && !operation.Responses.ContainsKey("422"))
            {
                operation.Responses.TryAdd("4XX", Problem("Any other refusal, as problem+json with its code: 404 NOT_FOUND for a path that matches nothing, 405 METHOD_NOT_ALLOWED with Allow.", context.Document));
            }

            // A body must arrive whole and in time (docs/http-api.md, "Request bodies"), so an operation that takes one may
            // answer 408; and any request may meet a store that is down, or a connection refused before it was read.
            if (operation.RequestBody is not null)
            {
                operation.Responses.TryAdd("408", Problem("The body did not arrive in time (whole within Gateway:HttpRequestBodyTimeoutMs, 30 s by default, and at 240 bytes a second or more after its first 5 s): FRAME_TIMEOUT, and the connection closes.", context.Document));
            }

            const string AnyRequest503 = "STORAGE_UNAVAILABLE (a store the request needs cannot be reached; retry later), or TOO_MANY_CONNECTIONS with Retry-After and Connection: close (the server or the client address holds or has opened too many connections; sent before the request is read).";
            if (!operation.Responses.TryAdd("503", Problem(AnyRequest503, context.Document)) && operation.Responses["503"] is OpenApiResponse busy)
            {
                // The password endpoints' own 503s (SERVER_BUSY, SHUTTING_DOWN) are told in their descriptions.
                busy.Description = "SERVER_BUSY or SHUTTING_DOWN, as this operation's description says, with Retry-After; or, as on every operation, " + AnyRequest503;
            }

            operation.Responses.TryAdd("500", Problem("The server failed to handle the request: INTERNAL_ERROR. The detail says nothing about why; the server's log does.", context.Document));

            foreach (var (status, response) in operation.Responses)
            {
                if (response is not OpenApiResponse concrete)
                {
                    continue;
                }

                // A refusal that says when to come back says it in Retry-After (docs/http-api.md, "Errors"). The headers
                // are components, referenced from each response: the same few definitions on hundreds of answers.
                if (status is "429" or "503")
                {
                    AddHeader(concrete, "Retry-After", context.Document);
                }

                if (path.StartsWith("/v1/", StringComparison.Ordinal))
                {
                    AddHeader(concrete, "Access-Control-Allow-Origin", context.Document);
                }

                if (charged && status.Length == 3 && status[0] is '2' or '4')
                {
                    AddHeader(concrete, "RateLimit-Policy", context.Document);
                    AddHeader(concrete, "RateLimit", context.Document);
                }
            }

            foreach (var parameter in operation.Parameters ?? [])
            {
                if (parameter is not OpenApiParameter p)
                {
                    continue;
                }

                if (p is { In: ParameterLocation.Path, Name: { } name } && name.EndsWith("Id", StringComparison.Ordinal))
                {
                    p.Schema = new OpenApiSchema { Type = JsonSchemaType.String };
                    p.Description = "A UUID in its canonical text form; anything else is VALIDATION_FAILED (400).";
                }

                OpenApiLimits.ApplyToParameter(p, path);
            }

            return Task.CompletedTask;
        });

        options.AddSchemaTransformer((schema, context, _) =>
        {
            // Request bodies are nullable in C# so that the server can name a missing field itself (VALIDATION_FAILED
            // with errors), but a required field sent as null is refused like a missing one: the document says so.
            // Responses keep their nulls (a next_cursor of null means the last page).
            if (context.JsonTypeInfo.Type.Name.EndsWith("Request", StringComparison.Ordinal) && schema.Required is { Count: > 0 } required && schema.Properties is { } properties)
            {
                foreach (var name in required)
                {
                    if (properties.TryGetValue(name, out var property) && property is OpenApiSchema { Type: { } type } concrete
                        && type.HasFlag(JsonSchemaType.Null) && type != JsonSchemaType.Null)
                    {
                        concrete.Type = type & ~JsonSchemaType.Null;
                    }
                }
            }

            // ApiTimeConverter writes these; the schema exporter cannot see through a converter.
            if (context.JsonTypeInfo.Type == typeof(DateTime) || context.JsonTypeInfo.Type == typeof(DateTime?))
            {
                schema.Type = context.JsonTypeInfo.Type == typeof(DateTime) ? JsonSchemaType.String : JsonSchemaType.String | JsonSchemaType.Null;
                schema.Format = "date-time";
            }

            OpenApiLimits.Apply(schema, context);
            return Task.CompletedTask;
        });
    }
}
