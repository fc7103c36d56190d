using System.Security.Claims;
using InfoBank.Core.Applications;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Infrastructure.Web;
using Microsoft.AspNetCore.Http.HttpResults;

namespace InfoBank.Server.Features.Applications;

/// <summary>
/// Business routes (<c>/api/v1/applications</c>) and committee routes (<c>/api/v1/committee/…</c>).
/// A business only ever sees its own applications: another business's id answers 404, as an
/// unknown id does, so ids cannot be probed.
/// </summary>
public static class ApplicationsApi
{
    private const long MaxBody = 64 * 1024;

    public static void MapApplicationsApi(this IEndpointRouteBuilder routes)
    {
        var business = routes.MapGroup("/api/v1/applications").WithTags("Applications").RequireAuthorization(AuthPolicies.Business);
        business.MapPost("/", CreateAsync).WithName("CreateApplication").ProducesProblems(ProblemTypes.LookbackOutOfRange).WithRequestBodyLimit(MaxBody).WithSummary("Create a draft application (purpose, data, output, retention, recipient, security, benefit, validity).");
        business.MapGet("/", ListAsync).WithName("ListMyApplications").ProducesProblems().WithSummary("The calling business's applications.");
        business.MapGet("/{id:guid}", GetAsync).WithName("GetMyApplication").ProducesProblems(ProblemTypes.NotFound).WithSummary("Status, the PIA report and the committee's decision with reasons and conditions.");
        business.MapPut("/{id:guid}", UpdateAsync).WithName("UpdateApplication").ProducesProblems(ProblemTypes.NotFound, ProblemTypes.WrongState, ProblemTypes.LookbackOutOfRange).WithRequestBodyLimit(MaxBody).WithSummary("Edit a draft (or a returned application, which becomes a draft again).");
        business.MapPost("/{id:guid}/submit", SubmitAsync).WithName("SubmitApplication").ProducesProblems(ProblemTypes.NotFound, ProblemTypes.WrongState, ProblemTypes.DraftNoLongerValid).WithSummary("Freeze the draft as a version and run the PIA and the committee policies on it.");

        var review = routes.MapGroup("/api/v1/committee/applications").WithTags("Committee").RequireAuthorization(AuthPolicies.Committee);
        review.MapGet("", CommitteeListAsync).WithName("ListApplicationsForCommittee").ProducesProblems().WithSummary("Applications, optionally filtered by status (e.g. in_review).");
        review.MapGet("/{id:guid}", CommitteeGetAsync).WithName("GetApplicationForCommittee").ProducesProblems(ProblemTypes.NotFound).WithSummary("An application with its PIA report, policy decision, votes and history.");
        review.MapPost("/{id:guid}/votes", VoteAsync).WithName("VoteOnApplication").ProducesProblems(ProblemTypes.NotFound, ProblemTypes.WrongState, ProblemTypes.RoleNotAllowed, ProblemTypes.AlreadyDone).WithRequestBodyLimit(MaxBody).WithSummary("Vote approve, approve_with_conditions or reject, with a reason.");
        review.MapPost("/{id:guid}/decision", DecideAsync).WithName("DecideApplication").ProducesProblems(ProblemTypes.NotFound, ProblemTypes.WrongState, ProblemTypes.RoleNotAllowed, ProblemTypes.NoQuorum, ProblemTypes.PolicyDenies).WithRequestBodyLimit(MaxBody).WithSummary("Close the vote under the policy's quorum; approval creates the grant.");

        var grants = routes.MapGroup("/api/v1/committee/grants").WithTags("Committee").RequireAuthorization(AuthPolicies.Committee);
        grants.MapGet("/{id:guid}", GetGrantAsync).WithName("GetGrant").ProducesProblems(ProblemTypes.NotFound).WithSummary("A grant and its status.");
        grants.MapPost("/{id:guid}/suspend", SuspendAsync).WithName("SuspendGrant").ProducesProblems(ProblemTypes.NotFound, ProblemTypes.WrongState, ProblemTypes.RoleNotAllowed).WithRequestBodyLimit(MaxBody).WithSummary("Suspend a grant, with a reason.");
        grants.MapPost("/{id:guid}/reinstate", ReinstateAsync).WithName("ReinstateGrant").ProducesProblems(ProblemTypes.NotFound, ProblemTypes.WrongState, ProblemTypes.RoleNotAllowed).WithRequestBodyLimit(MaxBody).WithSummary("Reinstate a suspended grant, with a reason.");
        grants.MapPost("/{id:guid}/revoke", RevokeAsync).WithName("RevokeGrant").ProducesProblems(ProblemTypes.NotFound, ProblemTypes.WrongState, ProblemTypes.RoleNotAllowed).WithRequestBodyLimit(MaxBody).WithSummary("Revoke a grant for good, with a reason.");
    }

    public static async Task<Results<Created<ApplicationView>, ProblemHttpResult>> CreateAsync(
        ApplicationSpec spec, ClaimsPrincipal user, ApplicationService service, CancellationToken ct) =>
        (await service.CreateAsync(user.ClientId(), spec, ct)).ToResult(view => TypedResults.Created($"/api/v1/applications/{view.Id}", view));

    public static async Task<Results<Ok<Page<ApplicationSummary>>, ProblemHttpResult>> ListAsync(
        int? limit, string? cursor, HttpContext context, ClaimsPrincipal user, ApplicationService service, CancellationToken ct)
    {
        if (!Paging.TryRead<ApplicationPosition>(limit, cursor, out var size, out var after, out var problem))
        {
            return problem!;
        }
        var (page, next) = await service.ListForOwnerAsync(user.ClientId(), after, size, ct);
        return Paging.Result(context, page, next);
    }

    public static async Task<Results<Ok<ApplicationView>, ProblemHttpResult>> GetAsync(Guid id, ClaimsPrincipal user, ApplicationService service, CancellationToken ct) =>
        (await service.GetForOwnerAsync(user.ClientId(), id, ct)).ToOk();

    public static async Task<Results<Ok<ApplicationView>, ProblemHttpResult>> UpdateAsync(
        Guid id, ApplicationSpec spec, ClaimsPrincipal user, ApplicationService service, CancellationToken ct) =>
        (await service.UpdateDraftAsync(user.ClientId(), id, spec, ct)).ToOk();

    public static async Task<Results<Ok<ApplicationView>, ProblemHttpResult>> SubmitAsync(
        Guid id, ClaimsPrincipal user, ApplicationService service, CancellationToken ct) =>
        (await service.SubmitAsync(user.ClientId(), id, ct)).ToOk();

    public static async Task<Results<Ok<Page<CommitteeApplicationSummary>>, ProblemHttpResult>> CommitteeListAsync(
        string? status, int? limit, string? cursor, HttpContext context, ApplicationService service, CancellationToken ct)
    {
        var known = Enum.GetValues<ApplicationStatus>().Select(ApplicationWorkflow.Name).ToList();
        if (status is not null && !known.Contains(status))
        {
            return Paging.InvalidParameter("status", $"status must be one of {string.Join(", ", known)}.");
        }
        if (!Paging.TryRead<ApplicationPosition>(limit, cursor, out var size, out var after, out var problem))
        {
            return problem!;
        }
        var (page, next) = await service.ListForCommitteeAsync(status, after, size, ct);
        return Paging.Result(context, page, next);
    }

    public static async Task<Results<Ok<CommitteeApplicationView>, ProblemHttpResult>> CommitteeGetAsync(Guid id, ApplicationService service, CancellationToken ct) =>
        (await service.GetForCommitteeAsync(id, ct)).ToOk();

    public static async Task<Results<Ok<CommitteeApplicationView>, ProblemHttpResult>> VoteAsync(
        Guid id, VoteRequest request, ClaimsPrincipal user, ApplicationService service, CancellationToken ct) =>
        (await service.VoteAsync(CommitteeActor(user), id, request, ct)).ToOk();

    public static async Task<Results<Ok<CommitteeApplicationView>, ProblemHttpResult>> DecideAsync(
        Guid id, DecisionRequest? request, ClaimsPrincipal user, ApplicationService service, CancellationToken ct) =>
        (await service.DecideAsync(CommitteeActor(user), id, request, ct)).ToOk();

    public static async Task<Results<Ok<GrantView>, ProblemHttpResult>> GetGrantAsync(Guid id, ApplicationService service, CancellationToken ct) =>
        await service.FindGrantAsync(id, ct) is { } grant ? TypedResults.Ok(grant) : NotFound($"No grant {id}.");

    public static async Task<Results<Ok<GrantView>, ProblemHttpResult>> SuspendAsync(
        Guid id, GrantActionRequest request, ClaimsPrincipal user, ApplicationService service, CancellationToken ct) =>
        (await service.SuspendGrantAsync(CommitteeActor(user), id, request, ct)).ToOk();

    public static async Task<Results<Ok<GrantView>, ProblemHttpResult>> ReinstateAsync(
        Guid id, GrantActionRequest request, ClaimsPrincipal user, ApplicationService service, CancellationToken ct) =>
        (await service.ReinstateGrantAsync(CommitteeActor(user), id, request, ct)).ToOk();

    public static async Task<Results<Ok<GrantView>, ProblemHttpResult>> RevokeAsync(
        Guid id, GrantActionRequest request, ClaimsPrincipal user, ApplicationService service, CancellationToken ct) =>
        (await service.RevokeGrantAsync(CommitteeActor(user), id, request, ct)).ToOk();

    /// <summary>
    /// The committee role comes from the token's role claims. A person holding several roles acts in
    /// the most senior one (chair, then member, then secretariat); the policy then decides what that role may do.
    /// </summary>
    internal static Actor CommitteeActor(ClaimsPrincipal user)
    {
        string[] seniority = [CommitteeRoles.Chair, CommitteeRoles.Member, CommitteeRoles.Secretariat];
        var role = seniority.FirstOrDefault(r => user.IsInRole(r) || user.HasClaim("role", r)) ?? "none";
        return Actor.Committee(user.AccountId(), role);
    }

    private static ProblemHttpResult NotFound(string detail) => Refusal.Of(ProblemTypes.NotFound, detail).ToResult();
}
