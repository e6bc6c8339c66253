namespace ChatWire.Gateway.Api;

/// <summary>The problem+json body of every HTTP error (RFC 9457, with the shared error code's number and name).</summary>
/// <param name="Type">A URN naming the error: <c>urn:chatwire:error:NAME</c>.</param>
/// <param name="Title">The error name as words.</param>
/// <param name="Status">The HTTP status.</param>
/// <param name="Detail">A sentence for people; not for programs to parse.</param>
/// <param name="Code">The number from the shared error table (docs/protocol.md §6).</param>
/// <param name="Name">The code's stable name, e.g. NOT_A_MEMBER.</param>
/// <param name="Errors">For VALIDATION_FAILED: messages by request field; absent otherwise.</param>
/// <param name="Missing">For DISTRIBUTION_MISMATCH: recipients a complete distribution still needs a seed for; absent otherwise.</param>
/// <param name="Extra">For DISTRIBUTION_MISMATCH: recipients that are not current members (or not devices on a member's signed list).</param>
/// <param name="Stale">For DISTRIBUTION_MISMATCH: recipients named at a history key generation that is not their current one.</param>
internal sealed record ApiProblem(
    string Type,
    string Title,
    int Status,
    string Detail,
    int Code,
    string Name,
    IReadOnlyDictionary<string, string[]>? Errors = null,
    IReadOnlyList<KeyRecipientInfo>? Missing = null,
    IReadOnlyList<KeyRecipientInfo>? Extra = null,
    IReadOnlyList<KeyRecipientInfo>? Stale = null);

/// <summary>The recipient lists of a DISTRIBUTION_MISMATCH refusal (problem+json extension members).</summary>
internal sealed record DistributionMismatch(IReadOnlyList<KeyRecipientInfo> Missing, IReadOnlyList<KeyRecipientInfo> Extra, IReadOnlyList<KeyRecipientInfo> Stale);

/// <summary>OpenAPI metadata for the endpoints, so <c>/openapi/v1.json</c> says what each one answers.</summary>
internal static class ApiDocs
{
    public const string ProblemContentType = "application/problem+json";

    /// <summary>
    /// Operation id, summary, tag and description: what a client developer needs beyond the summary (who may call
    /// it, its rules and limits, what its error codes mean), from docs/http-api.md and the handler.
    /// </summary>
    public static RouteHandlerBuilder Describe(this RouteHandlerBuilder builder, string operationId, string summary, string tag, string description) =>
        builder.WithName(operationId).WithSummary(summary).WithTags(tag).WithDescription(description);

    /// <summary>The success answer with a JSON body.</summary>
    public static RouteHandlerBuilder Returns<T>(this RouteHandlerBuilder builder, int status = StatusCodes.Status200OK) =>
        builder.Produces<T>(status, "application/json");

    /// <summary>The success answer 204 No Content.</summary>
    public static RouteHandlerBuilder ReturnsNoContent(this RouteHandlerBuilder builder) =>
        builder.Produces(StatusCodes.Status204NoContent);

    /// <summary>Error answers, as problem+json.</summary>
    public static RouteHandlerBuilder Refuses(this RouteHandlerBuilder builder, params int[] statuses)
    {
        foreach (var status in statuses)
        {
            builder.Produces<ApiProblem>(status, ProblemContentType);
        }

        return builder;
    }
}
