using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Http.Metadata;

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
/// Endpoint metadata raising or lowering the body limit for one route (for example bulk deposits);
/// <c>RequestBodyGateMiddleware</c> (Infrastructure/Web) enforces it.
/// </summary>
public sealed record RequestBodyLimit(long? MaxRequestBodySize) : IRequestSizeLimitMetadata;

public static class RequestBodyLimitExtensions
{
    public static TBuilder WithRequestBodyLimit<TBuilder>(this TBuilder builder, long maxBytes)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequestBodyLimit(maxBytes));
}
