using InfoBank.Server.Infrastructure.Errors;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace InfoBank.Server.Infrastructure.Web;

/// <summary>Where in the pipeline a <see cref="RequestBodyGateMiddleware"/> stands.</summary>
public enum RequestBodyStage
{
    /// <summary>
    /// After routing and the credential rate limits (a flood of sign-ins is refused before any form
    /// is read), before authentication: what headers alone decide, and the bodies of anonymous routes.
    /// </summary>
    BeforeAuthentication,

    /// <summary>After authorization: the bodies of routes that need a token, read only for callers allowed to send them.</summary>
    AfterAuthorization,
}

/// <summary>
/// Everything the host checks about a request body before a handler reads it, the same way on
/// every server (Kestrel, IIS, the in-process test server):
/// <list type="bullet">
/// <item>the size limit (the route's <see cref="IRequestSizeLimitMetadata"/> or <c>Limits:MaxRequestBodyBytes</c>):
/// a declared length over it is refused before reading, and a body of unknown length is buffered only
/// up to it (413 either way);</item>
/// <item>JSON bodies are UTF-8 (RFC 8259): another charset is a 415, not a decoding failure;</item>
/// <item>a form body carrying an <c>access_token</c> is refused (400), like one in the query string.</item>
/// </list>
/// Reading happens only for callers allowed to send the body: for a route that needs a token, the
/// gate's second stage stands after authorization, so an anonymous caller gets its 401 without the
/// server reading a byte. Anonymous routes (the OAuth endpoints, the sign-in form) are checked in
/// the first stage, before the authentication handlers that read their forms.
/// </summary>
public sealed class RequestBodyGateMiddleware(RequestDelegate next, IOptions<LimitsOptions> options, IProblemDetailsService problems, RequestBodyStage stage)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        var limit = endpoint?.Metadata.GetMetadata<IRequestSizeLimitMetadata>()?.MaxRequestBodySize ?? options.Value.MaxRequestBodyBytes;
        // Unrouted requests (404, OpenIddict's own introspection and revocation) need no token either.
        var needsToken = endpoint is not null && endpoint.Metadata.GetMetadata<IAllowAnonymous>() is null;

        if (stage == RequestBodyStage.BeforeAuthentication)
        {
            var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
            if (sizeFeature is { IsReadOnly: false })
            {
                sizeFeature.MaxRequestBodySize = limit;
            }
            if (context.Request.ContentLength > limit)
            {
                await RefuseAsync(context, ProblemTypes.BodyTooLarge, TooLargeDetail(limit));
                return;
            }
            if (needsToken)
            {
                await next(context);
                return;
            }
        }
        else if (!needsToken)
        {
            await next(context);
            return;
        }

        if (await CheckBodyAsync(context, limit))
        {
            await next(context);
        }
    }

    private async Task<bool> CheckBodyAsync(HttpContext context, long limit)
    {
        var request = context.Request;
        if (MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType) && IsJson(mediaType) && mediaType.Charset.HasValue)
        {
            var charset = HeaderUtilities.RemoveQuotes(mediaType.Charset);
            if (!charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
            {
                await RefuseAsync(context, ProblemTypes.UnsupportedMediaType,
                    $"JSON bodies are read as UTF-8 only; the Content-Type names the charset '{Printable(charset)}'. Send UTF-8 (charset=utf-8, or no charset).");
                return false;
            }
            if (charset.Length != mediaType.Charset.Length)
            {
                // charset="utf-8" means charset=utf-8 (RFC 9110), but the JSON reader would look
                // the quotes up as part of the name and fail: hand it the plain spelling.
                mediaType.Charset = "utf-8";
                request.ContentType = mediaType.ToString();
            }
        }

        if (request.ContentLength is null && HasBody(request))
        {
            request.EnableBuffering(bufferThreshold: 64 * 1024, bufferLimit: limit);
            try
            {
                await request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            }
            catch (IOException ex) when (ex is not BadHttpRequestException)
            {
                // EnableBuffering signals an overrun with a plain IOException. The server's own
                // BadHttpRequestException (its size limit, a malformed chunk) keeps its status
                // through the exception handler.
                await RefuseAsync(context, ProblemTypes.BodyTooLarge, TooLargeDetail(limit));
                return false;
            }
            request.Body.Position = 0;
        }

        if (request.HasFormContentType)
        {
            // Read here so that a malformed form is a 400 for every reader after us (they get the
            // parsed form from the feature), and so that the raw body stays readable too.
            request.EnableBuffering(bufferThreshold: 64 * 1024, bufferLimit: limit);
            IFormCollection form;
            try
            {
                form = await request.ReadFormAsync(context.RequestAborted);
            }
            catch (Exception ex) when (ex is InvalidDataException || ex is IOException and not BadHttpRequestException)
            {
                // The size is settled by now (declared within the limit, or buffered above), so a
                // failure here is the form itself: a truncated multipart body, too many fields.
                // Said in the API's terms: the reader's own message names framework limits and types.
                await RefuseAsync(context, ProblemTypes.MalformedRequest, ex is InvalidDataException
                    ? "The form body could not be read: it is not well-formed, or has more fields or longer values than this endpoint takes."
                    : "The form body could not be read: it ended before it was complete.");
                return false;
            }
            request.Body.Position = 0;
            if (form.ContainsKey(RequestTargetGuardMiddleware.AccessTokenParameter))
            {
                await RefuseAsync(context, ProblemTypes.TokenInUrl,
                    "The form body carries an access_token. Send the token only in the Authorization header (Authorization: Bearer …); the request was not processed.");
                return false;
            }
        }
        return true;
    }

    /// <summary>What minimal APIs read as JSON: <c>application/json</c> and any <c>+json</c> type.</summary>
    private static bool IsJson(MediaTypeHeaderValue mediaType) =>
        mediaType.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
        || mediaType.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase);

    private static bool HasBody(HttpRequest request) =>
        request.Headers.TransferEncoding.Count > 0 || request.Body.CanRead && !HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method);

    private static string TooLargeDetail(long limit) => $"The request body exceeds the limit of {limit} bytes for this endpoint.";

    // The charset is the client's text, echoed in the answer: keep it short and printable.
    private static string Printable(StringSegment charset)
    {
        var text = charset.Length > 40 ? charset.Substring(0, 40) + "…" : charset.Value!;
        return string.Concat(text.Where(c => !char.IsControl(c)));
    }

    private Task RefuseAsync(HttpContext context, ProblemType type, string detail)
    {
        context.Response.StatusCode = type.Status;
        return problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = type.ToDetails(detail) }).AsTask();
    }
}

public static class RequestBodyGateExtensions
{
    public static IApplicationBuilder UseRequestBodyGate(this IApplicationBuilder app, RequestBodyStage stage) =>
        app.UseMiddleware<RequestBodyGateMiddleware>(stage);
}
