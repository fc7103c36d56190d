using InfoBank.Core.Applications;
using InfoBank.Core.Policy;
using S = InfoBank.Core.Applications.ApplicationStatus;

namespace InfoBank.Core.Tests.Applications;

public sealed class WorkflowTests
{
    private static readonly Governance Policy = new(3, ["member", "chair"], true, ["chair", "secretariat"], ["chair", "member"], ["chair"], 365);
    private static readonly DateTimeOffset At = new(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);

    private static CommitteeVote V(string role, string choice, params string[] conditions) =>
        new(Guid.NewGuid(), role, choice, "because", conditions, At);

    private static readonly CommitteeVote[] ThreeApprovals = [V("member", "approve"), V("member", "approve"), V("chair", "approve")];

    /// <summary>Every command in a form that is valid wherever its state allows it.</summary>
    private static readonly Dictionary<string, ApplicationCommand> Commands = new()
    {
        ["edit"] = new EditDraft(),
        ["submit"] = new SubmitApplication(),
        ["assess-pass"] = new RecordAssessment(false),
        ["assess-blocked"] = new RecordAssessment(true),
        ["vote"] = new CastVote(V("member", "approve"), [], Policy),
        ["decide"] = new DecideApplication("chair", ThreeApprovals, Policy),
    };

    /// <summary>The whole transition table: (state, command) → new state, or null when refused.</summary>
    private static readonly Dictionary<(S, string), S?> Table = new()
    {
        [(S.Draft, "edit")] = S.Draft,
        [(S.Returned, "edit")] = S.Draft,
        [(S.Draft, "submit")] = S.Submitted,
        [(S.Submitted, "assess-pass")] = S.InReview,
        [(S.Submitted, "assess-blocked")] = S.Returned,
        [(S.InReview, "vote")] = S.InReview,
        [(S.InReview, "decide")] = S.Approved,
    };

    public static TheoryData<S, string> AllPairs()
    {
        var data = new TheoryData<S, string>();
        foreach (var state in Enum.GetValues<S>())
        {
            foreach (var command in Commands.Keys)
            {
                data.Add(state, command);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(AllPairs))]
    public void Every_state_and_command_is_allowed_or_refused_as_the_table_says(S state, string command)
    {
        var result = ApplicationWorkflow.Apply(state, Commands[command]);
        if (Table.TryGetValue((state, command), out var expected))
        {
            Assert.True(result.Allowed, result.Refusal);
            Assert.Equal(expected, result.To);
            Assert.NotEmpty(result.Events);
        }
        else
        {
            Assert.False(result.Allowed);
            Assert.Equal(RefusalKind.WrongState, result.Kind);
            Assert.Null(result.To);
            Assert.Empty(result.Events);
            Assert.False(string.IsNullOrWhiteSpace(result.Refusal));
        }
    }

    [Fact]
    public void Editing_a_submitted_version_is_refused_as_frozen()
    {
        var result = ApplicationWorkflow.Apply(S.InReview, new EditDraft());
        Assert.Contains("frozen", result.Refusal);
    }

    [Fact]
    public void Secretariat_may_not_vote_and_a_member_may_not_vote_twice()
    {
        Assert.Equal(RefusalKind.NotAllowed, ApplicationWorkflow.Apply(S.InReview, new CastVote(V("secretariat", "approve"), [], Policy)).Kind);
        var first = V("member", "approve");
        var again = first with { Choice = "reject" };
        Assert.Equal(RefusalKind.Duplicate, ApplicationWorkflow.Apply(S.InReview, new CastVote(again, [first], Policy)).Kind);
    }

    [Theory]
    [InlineData("approve_with_conditions", "", "needs at least one condition")]
    [InlineData("approve", "keep logs", "conditions go with approve_with_conditions only")]
    [InlineData("maybe", "", "must be one of")]
    public void Malformed_votes_are_refused(string choice, string condition, string message)
    {
        var vote = V("member", choice, condition.Length == 0 ? [] : [condition]);
        var result = ApplicationWorkflow.Apply(S.InReview, new CastVote(vote, [], Policy));
        Assert.Equal(RefusalKind.Invalid, result.Kind);
        Assert.Contains(message, result.Refusal);
    }

    [Fact]
    public void A_vote_without_reason_is_refused()
    {
        var result = ApplicationWorkflow.Apply(S.InReview, new CastVote(V("member", "approve") with { Reason = " " }, [], Policy));
        Assert.Equal(RefusalKind.Invalid, result.Kind);
    }

    [Fact]
    public void Deciding_without_quorum_is_refused()
    {
        var result = ApplicationWorkflow.Apply(S.InReview, new DecideApplication("chair", [V("member", "approve"), V("chair", "approve")], Policy));
        Assert.Equal(RefusalKind.NoQuorum, result.Kind);
        Assert.Contains("2 of the 3", result.Refusal);
    }

    [Fact]
    public void Only_the_roles_the_policy_names_may_decide()
    {
        Assert.Equal(RefusalKind.NotAllowed, ApplicationWorkflow.Apply(S.InReview, new DecideApplication("member", ThreeApprovals, Policy)).Kind);
        Assert.True(ApplicationWorkflow.Apply(S.InReview, new DecideApplication("secretariat", ThreeApprovals, Policy)).Allowed);
    }

    [Fact]
    public void Majority_decides_and_conditions_are_collected()
    {
        var approved = ApplicationWorkflow.Decide(new DecideApplication("chair",
            [V("member", "approve_with_conditions", "no linkage with other data"), V("member", "reject"), V("chair", "approve_with_conditions", "report yearly", "no linkage with other data")], Policy));
        Assert.Equal(S.Approved, approved.To);
        Assert.Equal(["no linkage with other data", "report yearly"], approved.Decision!.Conditions);
        Assert.Contains("grant.created", approved.Events);

        var rejected = ApplicationWorkflow.Decide(new DecideApplication("chair", [V("member", "reject"), V("member", "reject"), V("chair", "approve")], Policy));
        Assert.Equal(S.Rejected, rejected.To);
        Assert.Empty(rejected.Decision!.Conditions);
    }

    [Fact]
    public void The_chair_breaks_a_tie_and_without_the_chair_a_tie_cannot_be_decided()
    {
        var four = new Governance(4, ["member", "chair"], true, ["chair"], ["chair"], ["chair"], 365);
        var tie = ApplicationWorkflow.Decide(new DecideApplication("chair", [V("member", "approve"), V("member", "approve"), V("member", "reject"), V("chair", "reject")], four));
        Assert.Equal(S.Rejected, tie.To);
        Assert.True(tie.Decision!.ChairBrokeTie);

        var noChair = ApplicationWorkflow.Decide(new DecideApplication("chair", [V("member", "approve"), V("member", "approve"), V("member", "reject"), V("member", "reject")], four));
        Assert.Equal(RefusalKind.NoQuorum, noChair.Kind);

        var noBreaker = four with { ChairBreaksTies = false };
        var denied = ApplicationWorkflow.Decide(new DecideApplication("chair", [V("member", "approve"), V("member", "approve"), V("member", "reject"), V("chair", "reject")], noBreaker));
        Assert.Equal(S.Rejected, denied.To);
    }

    private static readonly Dictionary<string, GrantCommand> GrantCommands = new()
    {
        ["suspend"] = new SuspendGrant("chair", Policy),
        ["reinstate"] = new ReinstateGrant("chair", Policy),
        ["revoke"] = new RevokeGrant("chair", Policy),
        ["expire"] = new ExpireGrant(),
    };

    private static readonly Dictionary<(GrantStatus, string), GrantStatus> GrantTable = new()
    {
        [(GrantStatus.Active, "suspend")] = GrantStatus.Suspended,
        [(GrantStatus.Suspended, "reinstate")] = GrantStatus.Active,
        [(GrantStatus.Active, "revoke")] = GrantStatus.Revoked,
        [(GrantStatus.Suspended, "revoke")] = GrantStatus.Revoked,
        [(GrantStatus.Active, "expire")] = GrantStatus.Expired,
        [(GrantStatus.Suspended, "expire")] = GrantStatus.Expired,
    };

    public static TheoryData<GrantStatus, string> AllGrantPairs()
    {
        var data = new TheoryData<GrantStatus, string>();
        foreach (var state in Enum.GetValues<GrantStatus>())
        {
            foreach (var command in GrantCommands.Keys)
            {
                data.Add(state, command);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(AllGrantPairs))]
    public void Every_grant_state_and_command_is_allowed_or_refused_as_the_table_says(GrantStatus state, string command)
    {
        var result = GrantWorkflow.Apply(state, GrantCommands[command]);
        if (GrantTable.TryGetValue((state, command), out var expected))
        {
            Assert.True(result.Allowed, result.Refusal);
            Assert.Equal(expected, result.To);
        }
        else
        {
            Assert.Equal(RefusalKind.WrongState, result.Kind);
        }
    }

    [Fact]
    public void Grant_roles_follow_the_policy()
    {
        Assert.Equal(RefusalKind.NotAllowed, GrantWorkflow.Apply(GrantStatus.Active, new RevokeGrant("member", Policy)).Kind);
        Assert.True(GrantWorkflow.Apply(GrantStatus.Active, new SuspendGrant("member", Policy)).Allowed);
        Assert.Equal(RefusalKind.NotAllowed, GrantWorkflow.Apply(GrantStatus.Active, new SuspendGrant("secretariat", Policy)).Kind);
    }
}
