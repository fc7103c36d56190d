using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Infrastructure.Errors;

/// <summary>Bound from the <c>Limits</c> configuration section.</summary>
public sealed class LimitsOptions
{
    public const string Section = "Limits";

    /// <summary>Default cap on a request body; endpoints that need more declare it with <c>WithRequestSizeLimit</c>.</summary>
    [Range(1_024, 256L * 1024 * 1024)]
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;
}

/// <summary>
/// Enforces the body size limit the same way on every server (Kestrel, IIS, the in-process test
/// server): a declared Content-Length over the limit is refused before reading, and a chunked body
/// is buffered only up to the limit. Either way the client gets a 413 problem, never a 500.
/// </summary>
public sealed class RequestBodyLimitMiddleware(RequestDelegate next, IOptions<LimitsOptions> options)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var limit = context.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>()?.MaxRequestBodySize
            ?? options.Value.MaxRequestBodyBytes;
        var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = limit;
        }

        var length = context.Request.ContentLength;
        if (length > limit)
        {
            throw TooLarge(limit);
        }
        if (length is null && HasBody(context.Request))
        {
            context.Request.EnableBuffering(bufferThreshold: 64 * 1024, bufferLimit: limit);
            try
            {
                await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            }
            catch (IOException)
            {
                // EnableBuffering signals an overrun with an IOException; Kestrel with a BadHttpRequestException (also an IOException).
                throw TooLarge(limit);
            }
            context.Request.Body.Position = 0;
        }
        await next(context);
    }

    private static bool HasBody(HttpRequest request) =>
        request.Headers.TransferEncoding.Count > 0 || request.Body.CanRead && !HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method);

    private static BadHttpRequestException TooLarge(long? limit) =>
        new($"The request body exceeds the limit of {limit} bytes for this endpoint.", StatusCodes.Status413PayloadTooLarge);
}

/// <summary>Endpoint metadata raising or lowering the body limit for one route (for example bulk deposits).</summary>
public sealed record RequestBodyLimit(long? MaxRequestBodySize) : IRequestSizeLimitMetadata;

public static class RequestBodyLimitExtensions
{
    public static TBuilder WithRequestBodyLimit<TBuilder>(this TBuilder builder, long maxBytes)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequestBodyLimit(maxBytes));
}
