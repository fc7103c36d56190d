using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Infrastructure.Web;
using Microsoft.AspNetCore.Http.HttpResults;

namespace InfoBank.Server.Features.Access;

/// <summary>
/// The resident's passbook and the committee's review of accesses and alerts. (The brokered reads
/// themselves are mapped with the grants.)
/// </summary>
internal static class AccessApi
{
    public static void MapAccessApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGroup("/api/v1/me/passbook").WithTags("Access").RequireAuthorization(AuthPolicies.Resident)
            .MapGet("", GetPassbookAsync).WithName("GetMyPassbook").ProducesProblems()
            .WithSummary("Provision history: when, which business, which items, for which purpose, under which committee approval, and the points earned.");

        routes.MapGroup("/api/v1/committee/access-log").WithTags("Access").RequireAuthorization(AuthPolicies.Committee)
            .MapGet("", GetAccessLogAsync).WithName("GetAccessLog").ProducesProblems()
            .WithSummary("Every access attempt on grants, served or refused, newest first; filter by grant, business and time.");
        routes.MapGroup("/api/v1/committee/alerts").WithTags("Access").RequireAuthorization(AuthPolicies.Committee)
            .MapGet("", GetAlertsAsync).WithName("GetAccessAlerts").ProducesProblems()
            .WithSummary("Grants fetching beyond their approved frequency or volume, sudden spikes, and attempts on suspended, revoked or expired grants.");
    }

    public static async Task<Results<Ok<Passbook>, ProblemHttpResult>> GetPassbookAsync(
        HttpContext context, AccessStore store, IClientDirectory clients, int? limit, string? cursor, CancellationToken cancellationToken)
    {
        if (!Paging.TryRead<PassbookPosition>(limit, cursor, out var size, out var after, out var problem))
        {
            return problem!;
        }
        var residentId = context.User.AccountId();
        var (rows, more) = Paging.Split(await store.PassbookAsync(residentId, after?.At, after?.AccessId, size + 1, cancellationToken), size);
        var businesses = await AccessViewMapping.BusinessesAsync(clients, rows.Select(r => r.Recipient), cancellationToken);
        var lines = rows.Select(r => new PassbookLine(r.AccessId, r.At, businesses[r.Recipient], r.Kind, AccessViewMapping.Strings(r.DataItems),
            r.Purpose, r.GrantId, r.Approval, r.Records, r.Points)).ToList();
        var total = await store.PointsTotalAsync(residentId, cancellationToken);
        var next = Paging.Next(context, more ? new PassbookPosition(rows[^1].At, rows[^1].AccessId) : null);
        return TypedResults.Ok(new Passbook(lines, next, total));
    }

    public static async Task<Results<Ok<Page<AccessLogView>>, ProblemHttpResult>> GetAccessLogAsync(
        HttpContext context, AccessStore store, IClientDirectory clients, Guid? grantId, string? business, DateTimeOffset? from, DateTimeOffset? to,
        int? limit, string? cursor, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (from is not null && to is not null && from >= to)
        {
            errors["from"] = ["from must be before to."];
        }
        if (business is { Length: 0 or > 200 })
        {
            errors["business"] = ["business is a client id of 1 to 200 characters."];
        }
        if (errors.Count > 0)
        {
            return Refusal.Of(ProblemTypes.InvalidParameter, errors).ToResult();
        }
        if (!Paging.TryRead<AccessLogPosition>(limit, cursor, out var size, out var after, out var problem))
        {
            return problem!;
        }
        var (rows, more) = Paging.Split(await store.LogAsync(grantId, business, from, to, after, size + 1, cancellationToken), size);
        var businesses = await AccessViewMapping.BusinessesAsync(clients, rows.Select(r => r.Recipient), cancellationToken);
        var entries = rows.Select(r => new AccessLogView(r.Id, r.At, r.GrantId, businesses[r.Recipient], r.Kind, r.Outcome, r.FetchId, r.FetchStart,
            r.Items, r.Residents, AccessViewMapping.Strings(r.DataItems), r.Purpose, r.Approval, r.PolicyHash,
            AccessViewMapping.Strings(r.Reasons), r.AuditSequence)).ToList();
        return Paging.Result(context, entries, more ? new AccessLogPosition(rows[^1].At, rows[^1].Id) : null);
    }

    public static async Task<Results<Ok<Page<AlertView>>, ProblemHttpResult>> GetAlertsAsync(
        HttpContext context, AccessStore store, Guid? grantId, DateTimeOffset? from, int? limit, string? cursor, CancellationToken cancellationToken)
    {
        if (!Paging.TryRead<AlertPosition>(limit, cursor, out var size, out var after, out var problem))
        {
            return problem!;
        }
        var (rows, more) = Paging.Split(await store.AlertsAsync(grantId, from, after, size + 1, cancellationToken), size);
        return Paging.Result(context, rows.Select(a => new AlertView(a.AlertKey, a.GrantId, a.Kind, a.DetectedAt, a.Message)).ToList(),
            more ? new AlertPosition(rows[^1].DetectedAt, rows[^1].AlertKey) : null);
    }
}
