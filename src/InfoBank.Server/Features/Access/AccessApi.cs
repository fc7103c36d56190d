using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure;
using InfoBank.Server.Infrastructure.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace InfoBank.Server.Features.Access;

/// <summary>
/// The resident's passbook and the committee's review of accesses and alerts. (The brokered reads
/// themselves are mapped with the grants.)
/// </summary>
internal static class AccessApi
{
    public const int MaxLimit = 500;

    public static void MapAccessApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGroup("/api/v1/me/passbook").WithTags("Access").RequireAuthorization(AuthPolicies.Resident)
            .MapGet("", GetPassbookAsync).WithName("GetMyPassbook")
            .WithSummary("Provision history: when, which business, which items, for which purpose, under which committee approval, and the points earned.");

        routes.MapGroup("/api/v1/committee/access-log").WithTags("Access").RequireAuthorization(AuthPolicies.Committee)
            .MapGet("", GetAccessLogAsync).WithName("GetAccessLog")
            .WithSummary("Every access attempt on grants, served or refused, newest first; filter by grant, business and time.");
        routes.MapGroup("/api/v1/committee/alerts").WithTags("Access").RequireAuthorization(AuthPolicies.Committee)
            .MapGet("", GetAlertsAsync).WithName("GetAccessAlerts")
            .WithSummary("Grants fetching beyond their approved frequency or volume, sudden spikes, and attempts on suspended, revoked or expired grants.");
    }

    public static async Task<Results<Ok<Passbook>, ValidationProblem>> GetPassbookAsync(
        HttpContext context, AccessStore store, IClientDirectory clients, DateTimeOffset? before, Guid? beforeId, int? limit, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > MaxLimit)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"limit must be between 1 and {MaxLimit}"] });
        }
        var residentId = context.User.AccountId();
        var take = limit ?? 50;
        var rows = await store.PassbookAsync(residentId, before, beforeId, take, cancellationToken);
        var businesses = await AccessViewMapping.BusinessesAsync(clients, rows.Select(r => r.Recipient), cancellationToken);
        var lines = rows.Select(r => new PassbookLine(r.AccessId, r.At, businesses[r.Recipient], r.Kind, AccessViewMapping.Strings(r.DataItems),
            r.Purpose, r.GrantId, r.Approval, r.Records, r.Points)).ToList();
        var total = await store.PointsTotalAsync(residentId, cancellationToken);
        var more = rows.Count == take;
        return TypedResults.Ok(new Passbook(total, lines, more ? rows[^1].At : null, more ? rows[^1].AccessId : null));
    }

    public static async Task<Results<Ok<AccessLogPage>, ValidationProblem>> GetAccessLogAsync(
        AccessStore store, IClientDirectory clients, Guid? grantId, string? business, DateTimeOffset? from, DateTimeOffset? to, Guid? toId, int? limit, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (limit is < 1 or > MaxLimit)
        {
            errors["limit"] = [$"limit must be between 1 and {MaxLimit}"];
        }
        if (from is not null && to is not null && from >= to)
        {
            errors["from"] = ["from must be before to"];
        }
        if (business is { Length: 0 or > 200 })
        {
            errors["business"] = ["business is a client id of 1 to 200 characters"];
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var take = limit ?? 100;
        var rows = await store.LogAsync(grantId, business, from, to, toId, take, cancellationToken);
        var businesses = await AccessViewMapping.BusinessesAsync(clients, rows.Select(r => r.Recipient), cancellationToken);
        var entries = rows.Select(r => new AccessLogView(r.Id, r.At, r.GrantId, businesses[r.Recipient], r.Kind, r.Outcome, r.FetchId, r.FetchStart,
            r.Items, r.Residents, AccessViewMapping.Strings(r.DataItems), r.Purpose, r.Approval, r.PolicyHash,
            AccessViewMapping.Strings(r.Reasons), r.AuditSequence)).ToList();
        var more = rows.Count == take;
        return TypedResults.Ok(new AccessLogPage(entries, more ? rows[^1].At : null, more ? rows[^1].Id : null));
    }

    public static async Task<Results<Ok<List<AlertView>>, ValidationProblem>> GetAlertsAsync(
        AccessStore store, Guid? grantId, DateTimeOffset? from, int? limit, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > MaxLimit)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"limit must be between 1 and {MaxLimit}"] });
        }
        var rows = await store.AlertsAsync(grantId, from, limit ?? 100, cancellationToken);
        return TypedResults.Ok(rows.Select(a => new AlertView(a.AlertKey, a.GrantId, a.Kind, a.DetectedAt, a.Message)).ToList());
    }
}
