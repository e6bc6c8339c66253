using System.Buffers.Text;
using System.Globalization;

namespace ChatWire.Gateway.Api;

/// <summary>
/// List endpoints answer a page at a time (docs/http-api.md, "Lists"): items in id order, at most
/// <c>limit</c> of them (default 100, at most 500), and <c>next_cursor</c> to ask for the next page with,
/// <see langword="null"/> on the last. A cursor is opaque to clients; it names the last item of its page,
/// so items added or removed between pages never make one appear twice or skip another.
/// </summary>
internal static class Paging
{
    public const int DefaultLimit = 100;

    public const int MaxLimit = 500;

    /// <summary>A cursor is the big-endian bytes of an id, in base64url without padding (22 characters).</summary>
    public const int CursorBytes = 16;

    private static readonly int CursorLength = Base64Url.GetEncodedLength(CursorBytes);

    /// <summary>The page of <paramref name="items"/> after <paramref name="cursor"/>, and the cursor of the page after it.</summary>
    /// <exception cref="RequestRefusedException">VALIDATION_FAILED: the limit is not 1 to 500, or the cursor is not one this server issued.</exception>
    public static (List<T> Page, string? NextCursor) Page<T>(IEnumerable<T> items, Func<T, Guid> id, string? limit, string? cursor)
    {
        var take = Limit(limit);
        var after = After(cursor);
        return Trim(items.Where(item => after is not { } a || id(item).CompareTo(a) > 0).OrderBy(id), take, id);
    }

    /// <summary>
    /// A page a store read already: <paramref name="fetched"/> holds up to <paramref name="take"/> + 1 items in id order
    /// after the cursor, the extra one saying that a next page exists.
    /// </summary>
    public static (List<T> Page, string? NextCursor) Trim<T>(IEnumerable<T> fetched, int take, Func<T, Guid> id)
    {
        var page = fetched.Take(take + 1).ToList();
        string? next = null;
        if (page.Count > take)
        {
            page.RemoveAt(take);
            next = Encode(id(page[^1]));
        }

        return (page, next);
    }

    /// <summary>The page size a <c>limit</c> query parameter asks for (default 100).</summary>
    /// <exception cref="RequestRefusedException">VALIDATION_FAILED: not an integer from 1 to 500.</exception>
    public static int Limit(string? limit)
    {
        var take = DefaultLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out take) || take is < 1 or > MaxLimit))
        {
            throw RequestRefusedException.Validation("limit", $"limit must be an integer from 1 to {MaxLimit}.");
        }

        return take;
    }

    /// <summary>The id a <c>cursor</c> query parameter names (the last of its page); null for the first page.</summary>
    /// <exception cref="RequestRefusedException">VALIDATION_FAILED: not a cursor this server issued.</exception>
    public static Guid? After(string? cursor) => cursor is null ? null : Decode(cursor);

    /// <summary>The <c>next_cursor</c> of a page whose last item has this id.</summary>
    public static string Encode(Guid id)
    {
        Span<byte> bytes = stackalloc byte[CursorBytes];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        return Base64Url.EncodeToString(bytes);
    }

    private static Guid Decode(string cursor)
    {
        Span<byte> bytes = stackalloc byte[CursorBytes];
        try
        {
            if (cursor.Length == CursorLength && Base64Url.TryDecodeFromChars(cursor, bytes, out var written) && written == CursorBytes)
            {
                return new Guid(bytes, bigEndian: true);
            }
        }
        catch (FormatException)
        {
            // Not base64url: refused below like any other cursor this server did not issue.
        }

        throw RequestRefusedException.Validation("cursor", "cursor must be a next_cursor value from a previous page of this list.");
    }
}
