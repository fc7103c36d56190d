using InfoBank.Core.Policy;

namespace InfoBank.Core.Applications;

public enum ApplicationStatus
{
    Draft,
    Submitted,
    Returned,
    InReview,
    Approved,
    Rejected,
}

public enum GrantStatus
{
    Active,
    Suspended,
    Revoked,
    Expired,
}

public static class VoteChoices
{
    public const string Approve = "approve";
    public const string ApproveWithConditions = "approve_with_conditions";
    public const string Reject = "reject";

    public static readonly string[] All = [Approve, ApproveWithConditions, Reject];
}

public sealed record CommitteeVote(Guid MemberId, string Role, string Choice, string Reason, IReadOnlyList<string> Conditions, DateTimeOffset At);

/// <summary>Why a command was refused; the HTTP layer maps these to 409, 403 and 400.</summary>
public enum RefusalKind
{
    /// <summary>The application or grant is not in a state that allows this.</summary>
    WrongState,

    /// <summary>The caller's committee role may not do this under the policy.</summary>
    NotAllowed,

    /// <summary>The command itself is malformed (a vote without a reason, say).</summary>
    Invalid,

    /// <summary>It would repeat something already done (a second vote by the same member).</summary>
    Duplicate,

    /// <summary>Not enough votes for a decision.</summary>
    NoQuorum,

    /// <summary>
    /// The committee policy, judged with what the recipient holds now, denies the approval (another
    /// grant came into force since the version was assessed).
    /// </summary>
    PolicyDenies,
}

public abstract record ApplicationCommand;

public sealed record EditDraft : ApplicationCommand;

public sealed record SubmitApplication : ApplicationCommand;

public sealed record RecordAssessment(bool Blocked) : ApplicationCommand;

public sealed record CastVote(CommitteeVote Vote, IReadOnlyList<CommitteeVote> Existing, Governance Governance) : ApplicationCommand;

public sealed record DecideApplication(string DeciderRole, IReadOnlyList<CommitteeVote> Votes, Governance Governance) : ApplicationCommand;

public abstract record GrantCommand;

public sealed record SuspendGrant(string Role, Governance Governance) : GrantCommand;

public sealed record ReinstateGrant(string Role, Governance Governance) : GrantCommand;

public sealed record RevokeGrant(string Role, Governance Governance) : GrantCommand;

public sealed record ExpireGrant : GrantCommand;

/// <summary>The committee's tally: the outcome, the conditions attached and how it was reached.</summary>
public sealed record DecisionOutcome(bool Approved, IReadOnlyList<string> Conditions, int Approvals, int Rejections, bool ChairBrokeTie);

/// <summary>An allowed transition (new state and the events to record) or a refusal with its reason.</summary>
public sealed record Transition<TState>(TState? To, IReadOnlyList<string> Events, string? Refusal, RefusalKind? Kind, DecisionOutcome? Decision = null)
    where TState : struct
{
    public bool Allowed => Refusal is null;

    public static Transition<TState> Go(TState to, params string[] events) => new(to, events, null, null);

    public static Transition<TState> Refuse(RefusalKind kind, string reason) => new(null, [], reason, kind);
}

/// <summary>
/// The REMS-style application workflow as a pure function: state + command → events or a refusal.
/// draft → submitted → (assessment) returned | in_review → votes → approved | rejected.
/// A returned application is edited into a new draft and submitted again as a new version.
/// </summary>
public static class ApplicationWorkflow
{
    public static Transition<ApplicationStatus> Apply(ApplicationStatus state, ApplicationCommand command) => command switch
    {
        EditDraft => state is ApplicationStatus.Draft or ApplicationStatus.Returned
            ? Transition<ApplicationStatus>.Go(ApplicationStatus.Draft, "application.edited")
            : Transition<ApplicationStatus>.Refuse(RefusalKind.WrongState, $"the application is {Name(state)}; a submitted version is frozen and cannot be edited"),
        SubmitApplication => state == ApplicationStatus.Draft
            ? Transition<ApplicationStatus>.Go(ApplicationStatus.Submitted, "application.submitted")
            : Transition<ApplicationStatus>.Refuse(RefusalKind.WrongState, $"only a draft can be submitted; the application is {Name(state)}"),
        RecordAssessment a => state == ApplicationStatus.Submitted
            ? a.Blocked
                ? Transition<ApplicationStatus>.Go(ApplicationStatus.Returned, "application.assessed", "application.returned")
                : Transition<ApplicationStatus>.Go(ApplicationStatus.InReview, "application.assessed", "application.in_review")
            : Transition<ApplicationStatus>.Refuse(RefusalKind.WrongState, $"only a submitted application is assessed; the application is {Name(state)}"),
        CastVote v => state == ApplicationStatus.InReview
            ? Vote(v)
            : Transition<ApplicationStatus>.Refuse(RefusalKind.WrongState, $"votes are taken only while the application is in review; it is {Name(state)}"),
        DecideApplication d => state == ApplicationStatus.InReview
            ? Decide(d)
            : Transition<ApplicationStatus>.Refuse(RefusalKind.WrongState, $"only an application in review can be decided; it is {Name(state)}"),
        _ => Transition<ApplicationStatus>.Refuse(RefusalKind.Invalid, "unknown command"),
    };

    public static string Name(ApplicationStatus status) => status switch
    {
        ApplicationStatus.Draft => "draft",
        ApplicationStatus.Submitted => "submitted",
        ApplicationStatus.Returned => "returned",
        ApplicationStatus.InReview => "in_review",
        ApplicationStatus.Approved => "approved",
        ApplicationStatus.Rejected => "rejected",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };

    public static ApplicationStatus Parse(string name) =>
        Enum.GetValues<ApplicationStatus>().First(s => Name(s) == name);

    private static Transition<ApplicationStatus> Vote(CastVote command)
    {
        var vote = command.Vote;
        if (!command.Governance.VotingRoles.Contains(vote.Role))
        {
            return Transition<ApplicationStatus>.Refuse(RefusalKind.NotAllowed,
                $"the committee role '{vote.Role}' does not vote under the policy (voting roles: {string.Join(", ", command.Governance.VotingRoles)})");
        }
        if (command.Existing.Any(e => e.MemberId == vote.MemberId))
        {
            return Transition<ApplicationStatus>.Refuse(RefusalKind.Duplicate, "this member has already voted on this version");
        }
        if (!VoteChoices.All.Contains(vote.Choice))
        {
            return Transition<ApplicationStatus>.Refuse(RefusalKind.Invalid, $"a vote must be one of {string.Join(", ", VoteChoices.All)}");
        }
        if (string.IsNullOrWhiteSpace(vote.Reason))
        {
            return Transition<ApplicationStatus>.Refuse(RefusalKind.Invalid, "every vote needs a reason");
        }
        var hasConditions = vote.Conditions.Any(c => !string.IsNullOrWhiteSpace(c));
        if (vote.Choice == VoteChoices.ApproveWithConditions && !hasConditions)
        {
            return Transition<ApplicationStatus>.Refuse(RefusalKind.Invalid, "approve_with_conditions needs at least one condition");
        }
        if (vote.Choice != VoteChoices.ApproveWithConditions && hasConditions)
        {
            return Transition<ApplicationStatus>.Refuse(RefusalKind.Invalid, "conditions go with approve_with_conditions only");
        }
        return Transition<ApplicationStatus>.Go(ApplicationStatus.InReview, "committee.vote");
    }

    /// <summary>Tallies the votes under the policy's quorum; a tie without a tie-breaker is not an approval.</summary>
    public static Transition<ApplicationStatus> Decide(DecideApplication command)
    {
        var g = command.Governance;
        if (!g.DecideRoles.Contains(command.DeciderRole))
        {
            return Transition<ApplicationStatus>.Refuse(RefusalKind.NotAllowed,
                $"the committee role '{command.DeciderRole}' may not record a decision (decide roles: {string.Join(", ", g.DecideRoles)})");
        }
        var votes = command.Votes.Where(v => g.VotingRoles.Contains(v.Role)).ToList();
        if (votes.Count < g.Quorum)
        {
            return Transition<ApplicationStatus>.Refuse(RefusalKind.NoQuorum, $"no quorum: {votes.Count} of the {g.Quorum} votes the policy requires");
        }
        var approvals = votes.Count(v => v.Choice is VoteChoices.Approve or VoteChoices.ApproveWithConditions);
        var rejections = votes.Count - approvals;
        var chairBrokeTie = false;
        bool approved;
        if (approvals != rejections)
        {
            approved = approvals > rejections;
        }
        else if (g.ChairBreaksTies)
        {
            var chair = votes.FirstOrDefault(v => v.Role == "chair");
            if (chair is null)
            {
                return Transition<ApplicationStatus>.Refuse(RefusalKind.NoQuorum, "the vote is tied and the chair, who breaks ties, has not voted");
            }
            approved = chair.Choice != VoteChoices.Reject;
            chairBrokeTie = true;
        }
        else
        {
            approved = false;
        }
        var conditions = approved
            ? votes.Where(v => v.Choice == VoteChoices.ApproveWithConditions).SelectMany(v => v.Conditions)
                .Where(c => !string.IsNullOrWhiteSpace(c)).Select(c => c.Trim()).Distinct(StringComparer.Ordinal).ToList()
            : [];
        var outcome = new DecisionOutcome(approved, conditions, approvals, rejections, chairBrokeTie);
        return approved
            ? new Transition<ApplicationStatus>(ApplicationStatus.Approved, ["committee.decision", "application.approved", "grant.created"], null, null, outcome)
            : new Transition<ApplicationStatus>(ApplicationStatus.Rejected, ["committee.decision", "application.rejected"], null, null, outcome);
    }
}

/// <summary>The grant lifecycle: active ⇄ suspended → revoked; active or suspended → expired. Revoked and expired are final.</summary>
public static class GrantWorkflow
{
    public static Transition<GrantStatus> Apply(GrantStatus state, GrantCommand command) => command switch
    {
        SuspendGrant s => !s.Governance.SuspendRoles.Contains(s.Role)
            ? NotAllowed(s.Role, "suspend", s.Governance.SuspendRoles)
            : state == GrantStatus.Active
                ? Transition<GrantStatus>.Go(GrantStatus.Suspended, "grant.suspended")
                : Transition<GrantStatus>.Refuse(RefusalKind.WrongState, $"only an active grant can be suspended; it is {Name(state)}"),
        ReinstateGrant r => !r.Governance.SuspendRoles.Contains(r.Role)
            ? NotAllowed(r.Role, "reinstate", r.Governance.SuspendRoles)
            : state == GrantStatus.Suspended
                ? Transition<GrantStatus>.Go(GrantStatus.Active, "grant.reinstated")
                : Transition<GrantStatus>.Refuse(RefusalKind.WrongState, $"only a suspended grant can be reinstated; it is {Name(state)}"),
        RevokeGrant r => !r.Governance.RevokeRoles.Contains(r.Role)
            ? NotAllowed(r.Role, "revoke", r.Governance.RevokeRoles)
            : state is GrantStatus.Active or GrantStatus.Suspended
                ? Transition<GrantStatus>.Go(GrantStatus.Revoked, "grant.revoked")
                : Transition<GrantStatus>.Refuse(RefusalKind.WrongState, $"the grant is already {Name(state)}"),
        ExpireGrant => state is GrantStatus.Active or GrantStatus.Suspended
            ? Transition<GrantStatus>.Go(GrantStatus.Expired, "grant.expired")
            : Transition<GrantStatus>.Refuse(RefusalKind.WrongState, $"the grant is already {Name(state)}"),
        _ => Transition<GrantStatus>.Refuse(RefusalKind.Invalid, "unknown command"),
    };

    public static string Name(GrantStatus status) => status.ToString().ToLowerInvariant();

    public static GrantStatus Parse(string name) => Enum.GetValues<GrantStatus>().First(s => Name(s) == name);

    private static Transition<GrantStatus> NotAllowed(string role, string what, IReadOnlyList<string> roles) =>
        Transition<GrantStatus>.Refuse(RefusalKind.NotAllowed, $"the committee role '{role}' may not {what} grants (roles: {string.Join(", ", roles)})");
}
