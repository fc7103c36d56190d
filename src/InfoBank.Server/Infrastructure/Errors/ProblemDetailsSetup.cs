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
            context.ProblemDetails.Extensions.TryAdd(
                "traceId", Activity.Current?.Id ?? context.HttpContext.TraceIdentifier);
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
internal sealed class BadRequestExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
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

    private static string Describe(BadHttpRequestException exception) => exception.InnerException switch
    {
        JsonException json => $"The request body is not valid JSON for this operation at {json.Path ?? "$"}" +
            $" (line {json.LineNumber + 1}, byte {json.BytePositionInLine}): {FirstSentence(json.Message)}",
        _ => exception.Message,
    };

    // System.Text.Json appends "Path: … | LineNumber: …" which we already render more readably.
    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
