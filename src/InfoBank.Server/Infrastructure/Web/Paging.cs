using System.Text.Json;
using InfoBank.Core.Crypto;
using InfoBank.Server.Infrastructure.Errors;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.Http.HttpResults;

namespace InfoBank.Server.Infrastructure.Web;

/// <summary>
/// One page of a list: the items, and the URL of the next page (null on the last). Every list of the
/// API answers this shape, with the same URL in a <c>Link: &lt;…&gt;; rel="next"</c> header. Not sealed:
/// a list that also reports a summary (the passbook's points total, a grant fetch's counters) extends
/// it with members of its own, so <c>items</c> and <c>next</c> keep their names everywhere.
/// </summary>
public record Page<T>(IReadOnlyList<T> Items, string? Next);

/// <summary>
/// The list convention: <c>?limit=</c> (1 to <see cref="MaxLimit"/>, default <see cref="DefaultLimit"/>)
/// and an opaque <c>?cursor=</c> taken from the previous page's <c>next</c>. A cursor is the keyset
/// position of the last item served (base64url JSON): stable under inserts, and harmless to tamper
/// with, since every list is already limited to what the caller may see.
/// </summary>
public static class Paging
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Reads limit and cursor; a problem names the one that is wrong.</summary>
    public static bool TryRead<TPosition>(int? limit, string? cursor, out int size, out TPosition? position, out ProblemHttpResult? problem)
        where TPosition : class
    {
        position = null;
        if (!TryReadLimit(limit, out size, out problem))
        {
            return false;
        }
        if (cursor is null)
        {
            return true;
        }
        try
        {
            position = Base64Url.TryDecode(cursor) is { } bytes ? JsonSerializer.Deserialize<TPosition>(bytes, Json) : null;
        }
        catch (JsonException)
        {
            position = null;
        }
        if (position is null)
        {
            problem = ProblemTypes.InvalidParameter.Validation(
                new Dictionary<string, string[]> { ["cursor"] = ["The cursor is not one this list gave out; start again without it."] },
                "The cursor is not one this list gave out.");
            return false;
        }
        return true;
    }

    private static bool TryReadLimit(int? limit, out int size, out ProblemHttpResult? problem)
    {
        size = limit ?? DefaultLimit;
        problem = null;
        if (size is < 1 or > MaxLimit)
        {
            problem = InvalidParameter("limit", $"limit must be between 1 and {MaxLimit}.");
            return false;
        }
        return true;
    }

    /// <summary>
    /// The 400 <c>/problems/invalid-parameter</c> every list answers for a bad limit or cursor, also
    /// for a list that checks them itself (a grant's record pages: their sealed cursor is audited when refused).
    /// </summary>
    public static ProblemHttpResult InvalidParameter(string parameter, string message) =>
        ProblemTypes.InvalidParameter.Validation(new Dictionary<string, string[]> { [parameter] = [message] }, message);

    /// <summary>
    /// The page, with <paramref name="last"/> (the position after which the next page starts) turned
    /// into the next page's URL and Link header; null when there is no next page.
    /// </summary>
    public static Ok<Page<T>> Result<T, TPosition>(HttpContext context, IReadOnlyList<T> items, TPosition? last)
        where TPosition : class =>
        TypedResults.Ok(new Page<T>(items, Next(context, last)));

    /// <summary>The next page's URL for <paramref name="last"/>, also sent as the Link header; null (and no header) when it is null.</summary>
    public static string? Next<TPosition>(HttpContext context, TPosition? last)
        where TPosition : class =>
        last is null ? null : NextFromCursor(context, Base64Url.Encode(JsonSerializer.SerializeToUtf8Bytes(last, Json)));

    /// <summary>
    /// The next page's URL for an already encoded <paramref name="cursor"/>: this request's URL with
    /// the cursor replaced, also sent as the Link header; null (and no header) when it is null.
    /// </summary>
    public static string? NextFromCursor(HttpContext context, string? cursor)
    {
        if (cursor is null)
        {
            return null;
        }
        var query = QueryString.Create(context.Request.Query
            .Where(q => q.Key is not "cursor")
            .SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string?>(q.Key, v)))
            .Append(new KeyValuePair<string, string?>("cursor", cursor)));
        var next = context.Request.PathBase + context.Request.Path + query;
        context.Response.Headers.Append("Link", $"<{next}>; rel=\"next\"");
        return next;
    }

    /// <summary>Reads <paramref name="size"/> + 1 rows to learn whether another page follows.</summary>
    public static (IReadOnlyList<T> Page, bool More) Split<T>(IReadOnlyList<T> rows, int size) =>
        rows.Count > size ? (rows.Take(size).ToList(), true) : (rows, false);
}
