using System.Security.Claims;
using InfoBank.Core.Applications;
using InfoBank.Server.Infrastructure;
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
public sealed class ApplicationsApi : IApiModule
{
    private const long MaxBody = 64 * 1024;

    public void MapEndpoints(IEndpointRouteBuilder routes)
    {
        var business = routes.MapGroup("/api/v1/applications").WithTags("Applications").RequireAuthorization(AuthPolicies.Business);
        business.MapPost("/", CreateAsync).WithName("CreateApplication").WithRequestBodyLimit(MaxBody).WithSummary("Create a draft application (purpose, data, output, retention, recipient, security, benefit, validity).");
        business.MapGet("/", ListAsync).WithName("ListMyApplications").WithSummary("The calling business's applications.");
        business.MapGet("/{id:guid}", GetAsync).WithName("GetMyApplication").WithSummary("Status, the PIA report and the committee's decision with reasons and conditions.");
        business.MapPut("/{id:guid}", UpdateAsync).WithName("UpdateApplication").WithRequestBodyLimit(MaxBody).WithSummary("Edit a draft (or a returned application, which becomes a draft again).");
        business.MapPost("/{id:guid}/submit", SubmitAsync).WithName("SubmitApplication").WithSummary("Freeze the draft as a version and run the PIA and the committee policies on it.");

        var committee = routes.MapGroup("/api/v1/committee").WithTags("Committee").RequireAuthorization(AuthPolicies.Committee);
        committee.MapGet("/applications", CommitteeListAsync).WithName("ListApplicationsForCommittee").WithSummary("Applications, optionally filtered by status (e.g. in_review).");
        committee.MapGet("/applications/{id:guid}", CommitteeGetAsync).WithName("GetApplicationForCommittee").WithSummary("An application with its PIA report, policy decision, votes and history.");
        committee.MapPost("/applications/{id:guid}/votes", VoteAsync).WithName("VoteOnApplication").WithRequestBodyLimit(MaxBody).WithSummary("Vote approve, approve_with_conditions or reject, with a reason.");
        committee.MapPost("/applications/{id:guid}/decision", DecideAsync).WithName("DecideApplication").WithRequestBodyLimit(MaxBody).WithSummary("Close the vote under the policy's quorum; approval creates the grant.");
        committee.MapGet("/grants/{id:guid}", GetGrantAsync).WithName("GetGrant").WithSummary("A grant and its status.");
        committee.MapPost("/grants/{id:guid}/suspend", SuspendAsync).WithName("SuspendGrant").WithRequestBodyLimit(MaxBody).WithSummary("Suspend a grant, with a reason.");
        committee.MapPost("/grants/{id:guid}/reinstate", ReinstateAsync).WithName("ReinstateGrant").WithRequestBodyLimit(MaxBody).WithSummary("Reinstate a suspended grant, with a reason.");
        committee.MapPost("/grants/{id:guid}/revoke", RevokeAsync).WithName("RevokeGrant").WithRequestBodyLimit(MaxBody).WithSummary("Revoke a grant for good, with a reason.");
    }

    public static async Task<Results<Created<ApplicationView>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        ApplicationSpec spec, ClaimsPrincipal user, ApplicationService service, CancellationToken ct)
    {
        var result = await service.CreateAsync(user.ClientId(), spec, ct);
        return result.Kind switch
        {
            ResultKind.Ok => TypedResults.Created($"/api/v1/applications/{result.Value!.Id}", result.Value),
            ResultKind.Unacceptable => result.Problem!.Validation(result.Errors!, result.Message!),
            _ => TypedResults.ValidationProblem(result.Errors!, detail: "The application is not valid."),
        };
    }

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

    public static async Task<Results<Ok<ApplicationView>, ProblemHttpResult>> GetAsync(Guid id, ClaimsPrincipal user, ApplicationService service, CancellationToken ct)
    {
        var result = await service.GetForOwnerAsync(user.ClientId(), id, ct);
        return result.Kind == ResultKind.Ok ? TypedResults.Ok(result.Value!) : NotFound(result.Message!);
    }

    public static async Task<Results<Ok<ApplicationView>, ValidationProblem, ProblemHttpResult>> UpdateAsync(
        Guid id, ApplicationSpec spec, ClaimsPrincipal user, ApplicationService service, CancellationToken ct) =>
        Map(await service.UpdateDraftAsync(user.ClientId(), id, spec, ct));

    public static async Task<Results<Ok<ApplicationView>, ValidationProblem, ProblemHttpResult>> SubmitAsync(
        Guid id, ClaimsPrincipal user, ApplicationService service, CancellationToken ct) =>
        Map(await service.SubmitAsync(user.ClientId(), id, ct));

    public static async Task<Results<Ok<Page<CommitteeApplicationSummary>>, ValidationProblem, ProblemHttpResult>> CommitteeListAsync(
        string? status, int? limit, string? cursor, HttpContext context, ApplicationService service, CancellationToken ct)
    {
        var known = Enum.GetValues<ApplicationStatus>().Select(ApplicationWorkflow.Name).ToList();
        if (status is not null && !known.Contains(status))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["status"] = [$"status must be one of {string.Join(", ", known)}"] });
        }
        if (!Paging.TryRead<ApplicationPosition>(limit, cursor, out var size, out var after, out var problem))
        {
            return problem!;
        }
        var (page, next) = await service.ListForCommitteeAsync(status, after, size, ct);
        return Paging.Result(context, page, next);
    }

    public static async Task<Results<Ok<CommitteeApplicationView>, ProblemHttpResult>> CommitteeGetAsync(Guid id, ApplicationService service, CancellationToken ct)
    {
        var result = await service.GetForCommitteeAsync(id, ct);
        return result.Kind == ResultKind.Ok ? TypedResults.Ok(result.Value!) : NotFound(result.Message!);
    }

    public static async Task<Results<Ok<CommitteeApplicationView>, ValidationProblem, ProblemHttpResult>> VoteAsync(
        Guid id, VoteRequest request, ClaimsPrincipal user, ApplicationService service, CancellationToken ct) =>
        Map(await service.VoteAsync(CommitteeActor(user), id, request, ct));

    public static async Task<Results<Ok<CommitteeApplicationView>, ValidationProblem, ProblemHttpResult>> DecideAsync(
        Guid id, DecisionRequest? request, ClaimsPrincipal user, ApplicationService service, CancellationToken ct) =>
        Map(await service.DecideAsync(CommitteeActor(user), id, request, ct));

    public static async Task<Results<Ok<GrantView>, ProblemHttpResult>> GetGrantAsync(Guid id, ApplicationService service, CancellationToken ct) =>
        await service.FindGrantAsync(id, ct) is { } grant ? TypedResults.Ok(grant) : NotFound($"No grant {id}.");

    public static async Task<Results<Ok<GrantView>, ValidationProblem, ProblemHttpResult>> SuspendAsync(
        Guid id, GrantActionRequest request, ClaimsPrincipal user, ApplicationService service, CancellationToken ct) =>
        Map(await service.SuspendGrantAsync(CommitteeActor(user), id, request, ct));

    public static async Task<Results<Ok<GrantView>, ValidationProblem, ProblemHttpResult>> ReinstateAsync(
        Guid id, GrantActionRequest request, ClaimsPrincipal user, ApplicationService service, CancellationToken ct) =>
        Map(await service.ReinstateGrantAsync(CommitteeActor(user), id, request, ct));

    public static async Task<Results<Ok<GrantView>, ValidationProblem, ProblemHttpResult>> RevokeAsync(
        Guid id, GrantActionRequest request, ClaimsPrincipal user, ApplicationService service, CancellationToken ct) =>
        Map(await service.RevokeGrantAsync(CommitteeActor(user), id, request, ct));

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

    private static Results<Ok<T>, ValidationProblem, ProblemHttpResult> Map<T>(StepResult<T> result) => result.Kind switch
    {
        ResultKind.Ok => TypedResults.Ok(result.Value!),
        ResultKind.NotFound => NotFound(result.Message!),
        ResultKind.Invalid => TypedResults.ValidationProblem(result.Errors!, detail: result.Message),
        ResultKind.Unacceptable => result.Problem!.Validation(result.Errors!, result.Message!),
        _ => result.Refusal switch
        {
            RefusalKind.Invalid => TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["request"] = [result.Message!] }, detail: result.Message),
            RefusalKind.NotAllowed => TypedResults.Problem(result.Message, statusCode: StatusCodes.Status403Forbidden, title: "Not allowed for your committee role"),
            RefusalKind.Duplicate => TypedResults.Problem(result.Message, statusCode: StatusCodes.Status409Conflict, title: "Already done"),
            RefusalKind.NoQuorum => TypedResults.Problem(result.Message, statusCode: StatusCodes.Status409Conflict, title: "No quorum"),
            RefusalKind.PolicyDenies => ProblemTypes.PolicyDenies.Result(result.Message!, new Dictionary<string, object?> { ["rules"] = result.Rules }),
            _ => TypedResults.Problem(result.Message, statusCode: StatusCodes.Status409Conflict, title: "Not allowed in the current state"),
        },
    };

    private static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");
}
