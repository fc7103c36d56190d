using InfoBank.Server.Infrastructure;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Infrastructure.Web;
using Microsoft.AspNetCore.Http.HttpResults;

namespace InfoBank.Server.Features.Access;

/// <summary>Brokered access for approved businesses: record pages and aggregates of a grant.</summary>
internal sealed class GrantAccessApi : IApiModule
{
    private const long MaxAggregateBody = 16 * 1024;

    public void MapEndpoints(IEndpointRouteBuilder routes)
    {
        var grants = routes.MapGroup("/api/v1/grants").WithTags("Access").RequireAuthorization(AuthPolicies.Business);
        grants.MapGet("/{id:guid}/records", ReadRecordsAsync).WithName("ReadGrantRecords")
            .WithSummary("A page of the records of residents whose consent for this grant is active now: approved categories and fields in the approved window, residents under a per-recipient pseudonym; follow 'next' for the following page.");
        grants.MapPost("/{id:guid}/aggregates", AggregateAsync).WithName("QueryGrantAggregates")
            .WithRequestBodyLimit(MaxAggregateBody)
            .WithSummary("Counts, sums, means and medians of approved fields, grouped by approved dimensions and weeks; groups with fewer than k residents are suppressed.");
    }

    public static async Task<Results<Ok<RecordPage>, ValidationProblem, ProblemHttpResult>> ReadRecordsAsync(
        Guid id, int? limit, string? cursor, HttpContext context, GrantAccessService access, CancellationToken cancellationToken)
    {
        // limit and cursor are checked by the service, after the grant: a refusal of either is an
        // access attempt on the grant, logged and audited like any other.
        var result = await access.ReadRecordsAsync(context.User.ClientId(), id, cursor, limit, cancellationToken);
        if (result.Refusal is { } refusal)
        {
            return refusal is { Failure: AccessFailure.BadRequest, Errors: { } errors } && errors.Keys.All(k => k is "limit" or "cursor")
                ? Paging.InvalidParameter(errors.Keys.First(), errors.Values.First()[0])
                : Refuse<RecordPage>(context, refusal);
        }
        var page = result.Value!;
        return TypedResults.Ok(page with { Next = Paging.NextFromCursor(context, page.Next) });
    }

    public static async Task<Results<Ok<AggregateResult>, ValidationProblem, ProblemHttpResult>> AggregateAsync(
        Guid id, AggregateRequest? request, HttpContext context, GrantAccessService access, CancellationToken cancellationToken)
    {
        var result = await access.AggregateAsync(context.User.ClientId(), id, request, cancellationToken);
        return result.Refusal is { } refusal ? Refuse<AggregateResult>(context, refusal) : TypedResults.Ok(result.Value!);
    }

    private static Results<Ok<T>, ValidationProblem, ProblemHttpResult> Refuse<T>(HttpContext context, AccessRefusal refusal)
    {
        switch (refusal.Failure)
        {
            case AccessFailure.BadRequest:
                return TypedResults.ValidationProblem(refusal.Errors ?? new() { ["$"] = [refusal.Detail] }, detail: refusal.Detail);
            case AccessFailure.NotFound:
                return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Grant not found", detail: refusal.Detail);
            case AccessFailure.Throttled:
                var seconds = (long)Math.Max(1, Math.Ceiling(refusal.RetryAfter?.TotalSeconds ?? 1));
                context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Over the approved fetch frequency or volume", detail: refusal.Detail,
                    extensions: new Dictionary<string, object?> { ["retryAfterSeconds"] = seconds });
            default:
                return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden,
                    title: refusal.Failure == AccessFailure.Exhausted ? "The grant's approved fetches are used up" : "The grant cannot be used", detail: refusal.Detail);
        }
    }
}
