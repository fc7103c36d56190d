using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Json;

namespace InfoBank.Server.Infrastructure.Errors;

/// <summary>RFC 9457 problem details for every error the host produces, including the framework's own.</summary>
public static class ProblemDetailsSetup
{
    public static IServiceCollection AddInfoBankProblemDetails(this IServiceCollection services)
    {
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            context.ProblemDetails.Instance ??= context.HttpContext.Request.Path;
            // Every answer names one of our documented types; the framework's default is a link to
            // the HTTP RFC's status section, which tells a client nothing the status did not.
            var status = context.ProblemDetails.Status ?? context.HttpContext.Response.StatusCode;
            if ((context.ProblemDetails.Type is null || context.ProblemDetails.Type.StartsWith("https://tools.ietf.org/", StringComparison.Ordinal))
                && ProblemTypes.ForStatus(status) is { } generic)
            {
                context.ProblemDetails.Type = generic.Uri;
                context.ProblemDetails.Title ??= generic.Title;
            }
            // Every problem says in words what went wrong: a framework answer without one gets its type's description.
            if (string.IsNullOrWhiteSpace(context.ProblemDetails.Detail))
            {
                var type = context.ProblemDetails.Type is { } uri && uri.StartsWith("/problems/", StringComparison.Ordinal)
                    && ProblemTypes.All.TryGetValue(uri["/problems/".Length..], out var known) ? known : ProblemTypes.ForStatus(status);
                context.ProblemDetails.Detail = type?.Description ?? context.ProblemDetails.Title ?? "The request could not be served.";
            }
            context.ProblemDetails.Extensions.TryAdd(
                "traceId", Activity.Current?.Id ?? context.HttpContext.TraceIdentifier);
            // A refusal that may succeed later carries its wait in the body (Refusal.RetryAfter); the
            // header is what clients and proxies honour, so it is set here, with the body, for every one.
            if (Refusal.RetryAfterHeader(context.ProblemDetails) is { } retryAfter && !context.HttpContext.Response.HasStarted)
            {
                context.HttpContext.Response.Headers.RetryAfter = retryAfter;
            }
        });
        services.AddExceptionHandler<BadRequestExceptionHandler>();
        services.AddExceptionHandler<StorageExceptionHandler>();

        // Throwing on bad input routes binding and JSON errors through the handler above, so the
        // client gets a body that says what was wrong instead of a bare 400.
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        services.Configure<JsonOptions>(options =>
        {
            options.SerializerOptions.AllowTrailingCommas = false;
            options.SerializerOptions.UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow;
            // Last-wins would let {"vote":"reject",…,"vote":"approve"} mean approve to us and reject
            // to a proxy or log reader. This also covers JsonElement members (deposit payloads) at any depth.
            options.SerializerOptions.AllowDuplicateProperties = false;
            // A number is a JSON number: "5" where an integer is expected is a wrong type, as it
            // would be for any other member.
            options.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict;
            // An enum is its name, as the rule files write it ("integer", not 2): a number would change
            // meaning when a member is added, and the OpenAPI schema then lists the names a client may see.
            options.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        });
        return services;
    }

    public static WebApplication UseInfoBankProblemDetails(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }
}

/// <summary>
/// Turns the framework's <see cref="BadHttpRequestException"/> (malformed JSON, wrong types,
/// unreadable bodies) into a 4xx problem with a message a client can act on. Anything else falls
/// through to the default handler: a 500 without internals, which is a bug to fix.
/// </summary>
internal sealed partial class BadRequestExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad)
        {
            return false;
        }
        context.Response.StatusCode = bad.StatusCode;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails =
            {
                Status = bad.StatusCode,
                Title = bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Request body too large" : "Bad request",
                Detail = Describe(bad),
            },
        });
    }

    // The framework's messages name .NET types and parameters ("could not be converted to
    // InfoBank.Server.Features.Custody.EraseRequest"): internals a client cannot act on. Each is
    // said again in the API's own terms: where in the body or which parameter, and what is wrong.
    private static string Describe(BadHttpRequestException exception)
    {
        if (exception.InnerException is JsonException json)
        {
            return $"The request body is not valid JSON for this operation at {json.Path ?? "$"} (line {json.LineNumber + 1}, byte {json.BytePositionInLine}): {WhatIsWrong(json)}";
        }
        var required = RequiredParameter().Match(exception.Message);
        if (required.Success)
        {
            return required.Groups["source"].Value.Contains("body", StringComparison.OrdinalIgnoreCase)
                ? "The request needs a JSON body."
                : $"{required.Groups["name"].Value} is required.";
        }
        var unbound = UnboundParameter().Match(exception.Message);
        if (unbound.Success)
        {
            var value = unbound.Groups["value"].Value;
            return $"'{(value.Length > 40 ? value[..40] + "…" : value)}' is not a valid value for {unbound.Groups["name"].Value}.";
        }
        return exception.StatusCode == StatusCodes.Status413PayloadTooLarge
            ? "The request body is larger than this operation accepts."
            : "The request could not be read.";
    }

    private static string WhatIsWrong(JsonException json)
    {
        var messages = string.Join(" ", Chain(json).Select(e => e.Message));
        if (messages.Contains("duplicate", StringComparison.OrdinalIgnoreCase))
        {
            return "a member appears more than once.";
        }
        var unknown = UnknownMember().Match(messages);
        if (unknown.Success)
        {
            return $"'{unknown.Groups["name"].Value}' is not a member of this request.";
        }
        if (messages.Contains("could not be converted", StringComparison.Ordinal))
        {
            return "the value is not of the type this member takes, or out of its range.";
        }
        // The reader's own messages ("'}' is an invalid start of a value") name no types; keep their first sentence.
        var cut = json.Message.IndexOf(" Path:", StringComparison.Ordinal);
        var first = cut > 0 ? json.Message[..cut] : json.Message;
        return DotNetName().IsMatch(first) ? "the text is not well-formed JSON." : first;
    }

    private static IEnumerable<Exception> Chain(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            yield return current;
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex("""Required parameter "\S+ (?<name>[^"]+)" was not provided from (?<source>[^.]+)""")]
    private static partial System.Text.RegularExpressions.Regex RequiredParameter();

    [System.Text.RegularExpressions.GeneratedRegex("""Failed to bind parameter "\S+ (?<name>[^"]+)" from "(?<value>.*)"\.?$""")]
    private static partial System.Text.RegularExpressions.Regex UnboundParameter();

    [System.Text.RegularExpressions.GeneratedRegex("""property '(?<name>[^']+)' could not be mapped""")]
    private static partial System.Text.RegularExpressions.Regex UnknownMember();

    [System.Text.RegularExpressions.GeneratedRegex("""(System|Microsoft|InfoBank)\.[A-Z]""")]
    private static partial System.Text.RegularExpressions.Regex DotNetName();
}
