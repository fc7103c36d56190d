using InfoBank.Server.Infrastructure.Errors;
using Microsoft.AspNetCore.Http.Features;

namespace InfoBank.Server.Infrastructure.Web;

/// <summary>
/// Refuses, before routing, request targets that could reach something other than what they name:
/// a <c>.</c> or <c>..</c> path segment (Kestrel decodes <c>%2e</c> and removes dot segments, so
/// <c>DELETE /api/v1/me/consents/%2e%2e</c> would be routed as <c>DELETE /api/v1/me</c>, the erasure),
/// and an access token in the query string, where proxies, logs and browser histories keep it.
/// </summary>
public sealed class RequestTargetGuardMiddleware(RequestDelegate next, IProblemDetailsService problems)
{
    public const string AccessTokenParameter = "access_token";

    public async Task InvokeAsync(HttpContext context)
    {
        // The raw target is what the client sent; the in-process test server leaves it empty, and
        // there the (decoded, unnormalised) path is the closest thing to it.
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        var target = string.IsNullOrEmpty(raw) ? context.Request.PathBase.Add(context.Request.Path).Value ?? "" : raw;
        if (HasDotSegment(target))
        {
            await RefuseAsync(context, ProblemTypes.DotSegment,
                "The request path contains a '.' or '..' segment (perhaps percent-encoded). Send the path without it.");
            return;
        }
        if (context.Request.Query.ContainsKey(AccessTokenParameter))
        {
            await RefuseAsync(context, ProblemTypes.TokenInUrl,
                "The query string carries an access_token. Send the token only in the Authorization header (Authorization: Bearer …); the request was not processed.");
            return;
        }
        await next(context);
    }

    /// <summary>
    /// True when the path of a request target (origin form <c>/a/b?q</c> or absolute form
    /// <c>http://host/a/b?q</c>) has a segment that is <c>.</c> or <c>..</c> once <c>%2e</c> is decoded.
    /// </summary>
    public static bool HasDotSegment(ReadOnlySpan<char> target)
    {
        var query = target.IndexOfAny('?', '#');
        if (query >= 0)
        {
            target = target[..query];
        }
        var scheme = target.IndexOf("://", StringComparison.Ordinal);
        if (scheme > 0 && target[0] != '/')
        {
            target = target[(scheme + 3)..];
            var pathStart = target.IndexOf('/');
            target = pathStart < 0 ? [] : target[pathStart..];
        }
        foreach (var range in target.Split('/'))
        {
            var segment = target[range];
            var dots = 0;
            var ok = true;
            for (var i = 0; i < segment.Length && ok; i++)
            {
                if (segment[i] == '.')
                {
                    dots++;
                }
                else if (segment[i] == '%' && i + 2 < segment.Length && segment[i + 1] == '2' && segment[i + 2] is 'e' or 'E')
                {
                    dots++;
                    i += 2;
                }
                else
                {
                    ok = false;
                }
            }
            if (ok && dots is 1 or 2)
            {
                return true;
            }
        }
        return false;
    }

    private Task RefuseAsync(HttpContext context, ProblemType type, string detail)
    {
        context.Response.StatusCode = type.Status;
        return problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = type.ToDetails(detail) }).AsTask();
    }
}

public static class RequestTargetGuardExtensions
{
    public static IApplicationBuilder UseRequestTargetGuard(this IApplicationBuilder app) =>
        app.UseMiddleware<RequestTargetGuardMiddleware>();
}
