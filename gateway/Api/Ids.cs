namespace ChatWire.Gateway.Api;

/// <summary>
/// Ids in paths and bodies: UUIDs in their canonical text form only (8-4-4-4-12 hex digits). A malformed
/// id is a VALIDATION_FAILED (400) that names the field, never a 404 for a route that did not match.
/// </summary>
internal static class Ids
{
    /// <summary>The length of a UUID's canonical text form: 32 hex digits and 4 dashes.</summary>
    public const int TextLength = 36;

    // TryParseExact forgives white space around the digits; a canonical form has none, so the length is checked too.
    public static Guid Parse(string field, string? value) =>
        value is { Length: TextLength } && Guid.TryParseExact(value, "D", out var id)
            ? id
            : throw RequestRefusedException.Validation(field, $"{field} must be a UUID in its canonical text form, e.g. 0190a0b2-6f3c-7d4e-8a5b-1c2d3e4f5a6b.");
}
