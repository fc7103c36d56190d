using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Infrastructure.Web;
using Microsoft.AspNetCore.Http.HttpResults;

namespace InfoBank.Server.Features.Identity;

public sealed record AccountSummary(Guid Id, string Username, string DisplayName, string Kind, string? CommitteeRole, DateTimeOffset CreatedAt, bool Locked);

public sealed record ClientSummary(string ClientId, string DisplayName, string Kind);

/// <summary>Where a page of the client list ends (client-id order): the cursor of the client list.</summary>
public sealed record ClientPosition(string ClientId);

/// <summary>The operator's view of accounts and clients (creation is the CLI's job: secrets are shown once, on a terminal).</summary>
internal static class AdminApi
{
    public static void MapAdminApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/v1/admin").WithTags("Admin").RequireAuthorization(AuthPolicies.Operator);
        group.MapGet("/accounts", ListAccountsAsync).WithName("ListAccounts").ProducesProblems()
            .WithSummary("Every account (residents, committee members, auditors, operators) with its username, kind, committee role and whether it is locked; no password hashes.");
        group.MapPost("/accounts/{id:guid}/unlock", UnlockAsync).WithName("UnlockAccount").ProducesProblems(ProblemTypes.NotFound)
            .WithSummary("Clear an account's lockout and failed sign-in count.");
        group.MapGet("/clients", ListClientsAsync).WithName("ListClients").ProducesProblems()
            .WithSummary("Every registered OAuth client (businesses, data sources, apps) with its name and kind; no secrets.");
    }

    private static async Task<Results<Ok<Page<AccountSummary>>, ProblemHttpResult>> ListAccountsAsync(
        int? limit, string? cursor, HttpContext context, AccountService accounts, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!Paging.TryRead<AccountPosition>(limit, cursor, out var size, out var after, out var problem))
        {
            return problem!;
        }
        var now = time.GetUtcNow();
        var (page, next) = await accounts.ListAsync(after, size, cancellationToken);
        return Paging.Result(context, page.Select(a => new AccountSummary(
            a.Id, a.Username, a.DisplayName, a.Kind.ToText(), a.CommitteeRole, a.CreatedAt, a.LockoutUntil > now)).ToList(), next);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> UnlockAsync(Guid id, AccountService accounts, CancellationToken cancellationToken) =>
        await accounts.UnlockAsync(id, cancellationToken)
            ? TypedResults.NoContent()
            : Refusal.Of(ProblemTypes.NotFound, $"No account has the id {id}.").ToResult();

    private static async Task<Results<Ok<Page<ClientSummary>>, ProblemHttpResult>> ListClientsAsync(
        int? limit, string? cursor, HttpContext context, ClientRegistry clients, CancellationToken cancellationToken)
    {
        if (!Paging.TryRead<ClientPosition>(limit, cursor, out var size, out var after, out var problem))
        {
            return problem!;
        }
        var (page, next) = await clients.ListAsync(after?.ClientId, size, cancellationToken);
        return Paging.Result(context, page.Select(c => new ClientSummary(c.ClientId, c.DisplayName, c.Kind.ToText())).ToList(),
            next is null ? null : new ClientPosition(next));
    }
}
