using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Infrastructure.Web;
using Microsoft.AspNetCore.Http.HttpResults;

namespace InfoBank.Server.Features.Access;

/// <summary>Brokered access for approved businesses: record pages and aggregates of a grant.</summary>
internal static class GrantAccessApi
{
    private const long MaxAggregateBody = 16 * 1024;

    public static void MapGrantAccessApi(this IEndpointRouteBuilder routes)
    {
        var grants = routes.MapGroup("/api/v1/grants").WithTags("Access").RequireAuthorization(AuthPolicies.Business);
        grants.MapGet("/{id:guid}/records", ReadRecordsAsync).WithName("ReadGrantRecords").ProducesProblems(ProblemTypes.NotFound, ProblemTypes.GrantInactive, ProblemTypes.AccessKindNotApproved, ProblemTypes.FetchesExhausted, ProblemTypes.OverApprovedFrequency)
            .WithSummary("A page of the records of residents whose consent for this grant is active now: approved categories and fields in the approved window, residents under a per-recipient pseudonym; follow 'next' for the following page.");
        grants.MapPost("/{id:guid}/aggregates", AggregateAsync).WithName("QueryGrantAggregates").ProducesProblems(ProblemTypes.MalformedRequest, ProblemTypes.NotFound, ProblemTypes.GrantInactive, ProblemTypes.AccessKindNotApproved, ProblemTypes.AggregateNotApproved, ProblemTypes.FetchesExhausted, ProblemTypes.OverApprovedFrequency)
            .WithRequestBodyLimit(MaxAggregateBody)
            .WithSummary("Counts, sums, means and medians of approved fields, grouped by approved dimensions and weeks; groups with fewer than k residents are suppressed.");
    }

    public static async Task<Results<Ok<RecordPage>, ProblemHttpResult>> ReadRecordsAsync(
        Guid id, int? limit, string? cursor, HttpContext context, GrantAccessService access, CancellationToken cancellationToken)
    {
        // limit and cursor are checked by the service, after the grant: a refusal of either is an
        // access attempt on the grant, logged and audited like any other.
        var result = await access.ReadRecordsAsync(context.User.ClientId(), id, cursor, limit, cancellationToken);
        return result.ToResult(page => TypedResults.Ok(page with { Next = Paging.NextFromCursor(context, page.Next) }));
    }

    public static async Task<Results<Ok<AggregateResult>, ProblemHttpResult>> AggregateAsync(
        Guid id, AggregateRequest? request, HttpContext context, GrantAccessService access, CancellationToken cancellationToken) =>
        (await access.AggregateAsync(context.User.ClientId(), id, request, cancellationToken)).ToOk();
}
