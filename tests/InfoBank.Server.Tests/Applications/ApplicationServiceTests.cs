using Dapper;
using InfoBank.Core.Applications;
using InfoBank.Core.Audit;
using InfoBank.Core.Rules;
using InfoBank.Server.Features.Applications;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Tests.Applications;

/// <summary>
/// The workflow service over a real database of each provider: every step's state, events, votes,
/// decision and grant rows, and the audit entries it records.
/// </summary>
public abstract class ApplicationServiceTests<TFixture>(TFixture database) : StoreTestBase<TFixture>(database)
    where TFixture : DatabaseFixture
{
    private readonly RecordingGrantOffers _offers = new();
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 11, 22, 9, 0, 0, TimeSpan.Zero));
    private RecordingAuditLog? _auditLog;

    private RecordingAuditLog _audit => _auditLog ??= new(Database.Connections, _clock);

    private ApplicationService NewService()
    {
        var rules = new RuleCatalogProvider(Options.Create(new RuleFilesOptions
        {
            PiaDirectory = Path.Combine(AppContext.BaseDirectory, "pia"),
            PoliciesDirectory = Path.Combine(AppContext.BaseDirectory, "policies"),
        }), new TestEnvironment());
        return new ApplicationService(new ApplicationStore(Database.Connections), rules, _audit, _offers, _clock);
    }

    internal static ApplicationSpec Example(string name)
    {
        var file = YamlFile.Load(Path.Combine(AppContext.BaseDirectory, "pia", "examples", name + ".yaml"), name);
        return ApplicationSpecYaml.Parse(file, file.Root!);
    }

    private static readonly Actor Secretary = Actor.Committee(Guid.NewGuid(), "secretariat");
    private static readonly Actor Member = Actor.Committee(Guid.NewGuid(), "member");
    private static readonly Actor Chair = Actor.Committee(Guid.NewGuid(), "chair");

    private static string Owner() => "business-" + Guid.NewGuid().ToString("N")[..8];

    [SkippableFact]
    public async Task Draft_submit_review_vote_decide_creates_a_time_limited_grant()
    {
        var service = NewService();
        var owner = Owner();
        var created = await service.CreateAsync(owner, Example("fitness-club"), default);
        Assert.Null(created.Refusal);
        var id = created.Value!.Id;
        Assert.Equal("draft", created.Value.Status);
        Assert.Null(created.Value.Assessment);

        var submitted = await service.SubmitAsync(owner, id, default);
        Assert.Equal("in_review", submitted.Value!.Status);
        Assert.Equal(1, submitted.Value.Version);
        Assert.Equal("pass", submitted.Value.Assessment!.Pia.Outcome);
        Assert.Equal("permit", submitted.Value.Assessment.Policy.Decision);
        Assert.StartsWith("sha256:", submitted.Value.Assessment.RuleHash);

        Assert.Null((await service.VoteAsync(Member, id, new VoteRequest("approve", "aggregates only, k=10", null), default)).Refusal);
        Assert.Null((await service.VoteAsync(Secretary, id, new VoteRequest("approve_with_conditions", "fine", ["publish the ward statistics"]), default)).Refusal);
        var early = await service.DecideAsync(Chair, id, null, default);
        Assert.Equal(ProblemTypes.NoQuorum, early.Refusal?.Type);
        Assert.Null((await service.VoteAsync(Chair, id, new VoteRequest("approve", "benefit is fair", null), default)).Refusal);

        _clock.Advance(TimeSpan.FromHours(1));
        var decided = await service.DecideAsync(Chair, id, new DecisionRequest("approved at the November meeting"), default);
        Assert.Null(decided.Refusal);
        var view = decided.Value!;
        Assert.Equal("approved", view.Status);
        Assert.Equal(["publish the ward statistics"], view.Decision!.Conditions);
        Assert.Equal(3, view.Decision.Votes.Count);
        var grant = view.Grant!;
        Assert.Equal("active", grant.Status);
        Assert.Equal(owner, grant.RecipientClientId);
        Assert.Equal(_clock.GetUtcNow().AddDays(180), grant.ValidUntil);
        Assert.Equal(10, grant.MinGroupSize);
        Assert.Equal(view.Assessment!.RuleHash, grant.PolicyHash);
        Assert.Equal(["application.created", "application.submitted", "application.assessed", "application.in_review",
            "committee.vote", "committee.vote", "committee.vote", "committee.decision", "application.approved", "grant.created"],
            view.Events.Select(e => e.Kind));

        Assert.Equal([AuditKinds.ApplicationSubmitted, AuditKinds.ApplicationAssessed, AuditKinds.CommitteeVote, AuditKinds.CommitteeVote, AuditKinds.CommitteeVote, AuditKinds.CommitteeDecision],
            _audit.Entries.Select(e => e.Kind));
        Assert.All(_audit.Entries, e => Assert.Equal(view.Assessment.RuleHash, e.PolicyHash));
        Assert.Equal(grant.Id, _audit.Entries[^1].GrantId);
        Assert.Equal([$"publish {grant.Id} dpv:ServiceOptimisation"], _offers.Calls);

        // The business sees the reasons but not who on the committee gave them.
        var business = (await service.GetForOwnerAsync(owner, id, default)).Value!;
        Assert.All(business.Decision!.Votes, v => Assert.Null(v.MemberId));
        Assert.Contains(business.Decision.Votes, v => v.Reason == "benefit is fair");
    }

    [SkippableFact]
    public async Task A_blocker_returns_the_application_and_an_edit_makes_a_new_version()
    {
        var service = NewService();
        var owner = Owner();
        var mall = Example("shopping-mall");
        var id = (await service.CreateAsync(owner, mall, default)).Value!.Id;
        var returned = (await service.SubmitAsync(owner, id, default)).Value!;
        Assert.Equal("returned", returned.Status);
        Assert.Contains(returned.Assessment!.Pia.Findings, f => f.RuleId == "PIA-MIN-001");

        Assert.Equal(ProblemTypes.WrongState, (await service.SubmitAsync(owner, id, default)).Refusal?.Type);
        var fixedSpec = mall with
        {
            Data = [new DataRequest("location.visit", ["placeId", "dwellSeconds"]), new DataRequest("purchase.item", ["storeId"])],
            Output = new OutputSpec("aggregate", 10, null),
        };
        Assert.Equal("draft", (await service.UpdateDraftAsync(owner, id, fixedSpec, default)).Value!.Status);
        var resubmitted = (await service.SubmitAsync(owner, id, default)).Value!;
        Assert.Equal("in_review", resubmitted.Status);
        Assert.Equal(2, resubmitted.Version);
        Assert.Equal("pass", resubmitted.Assessment!.Pia.Outcome);
    }

    [SkippableFact]
    public async Task Another_business_cannot_see_edit_or_submit_an_application()
    {
        var service = NewService();
        var id = (await service.CreateAsync(Owner(), Example("fitness-club"), default)).Value!.Id;
        var other = Owner();
        Assert.Equal(ProblemTypes.NotFound, (await service.GetForOwnerAsync(other, id, default)).Refusal?.Type);
        Assert.Equal(ProblemTypes.NotFound, (await service.UpdateDraftAsync(other, id, Example("fitness-club"), default)).Refusal?.Type);
        Assert.Equal(ProblemTypes.NotFound, (await service.SubmitAsync(other, id, default)).Refusal?.Type);
        Assert.Empty((await service.ListForOwnerAsync(other, null, 10, default)).Page);
    }

    [SkippableFact]
    public async Task A_submitted_version_is_frozen_and_a_member_votes_once()
    {
        var service = NewService();
        var owner = Owner();
        var id = (await service.CreateAsync(owner, Example("health-research"), default)).Value!.Id;
        var review = (await service.SubmitAsync(owner, id, default)).Value!;
        Assert.Equal("in_review", review.Status);
        Assert.Equal("needs_review", review.Assessment!.Policy.Decision);

        var edit = await service.UpdateDraftAsync(owner, id, Example("fitness-club"), default);
        Assert.Equal(ProblemTypes.WrongState, edit.Refusal?.Type);
        Assert.Contains("frozen", edit.Refusal!.Detail);

        Assert.Null((await service.VoteAsync(Member, id, new VoteRequest("reject", "too much detail", null), default)).Refusal);
        Assert.Equal(ProblemTypes.AlreadyDone, (await service.VoteAsync(Member, id, new VoteRequest("approve", "changed my mind", null), default)).Refusal?.Type);
        Assert.Equal(ProblemTypes.MalformedRequest, (await service.VoteAsync(Chair, id, new VoteRequest("approve", "", null), default)).Refusal?.Type);
        Assert.Equal(ProblemTypes.RoleNotAllowed, (await service.VoteAsync(Actor.Committee(Guid.NewGuid(), "none"), id, new VoteRequest("approve", "x", null), default)).Refusal?.Type);
        Assert.Single(await new ApplicationStore(Database.Connections).VotesAsync(id, 1, default));
    }

    [SkippableFact]
    public async Task Rejection_creates_no_grant()
    {
        var service = NewService();
        var owner = Owner();
        var id = (await service.CreateAsync(owner, Example("health-research"), default)).Value!.Id;
        await service.SubmitAsync(owner, id, default);
        await service.VoteAsync(Member, id, new VoteRequest("reject", "re-identification risk", null), default);
        await service.VoteAsync(Secretary, id, new VoteRequest("reject", "weak security case", null), default);
        await service.VoteAsync(Chair, id, new VoteRequest("approve", "valuable research", null), default);
        Assert.Equal(ProblemTypes.RoleNotAllowed, (await service.DecideAsync(Member, id, null, default)).Refusal?.Type);
        var decided = (await service.DecideAsync(Secretary, id, null, default)).Value!;
        Assert.Equal("rejected", decided.Status);
        Assert.Null(decided.Grant);
        Assert.Empty(_offers.Calls);
        Assert.Equal(ProblemTypes.WrongState, (await service.DecideAsync(Chair, id, null, default)).Refusal?.Type);
        Assert.Equal(ProblemTypes.WrongState, (await service.VoteAsync(Actor.Committee(Guid.NewGuid(), "member"), id, new VoteRequest("approve", "late", null), default)).Refusal?.Type);
    }

    [SkippableFact]
    public async Task Grants_are_suspended_reinstated_revoked_and_expire()
    {
        var service = NewService();
        var grant = await ApprovedGrantAsync(service);
        Assert.Equal(ProblemTypes.RoleNotAllowed, (await service.SuspendGrantAsync(Secretary, grant, new GrantActionRequest("x"), default)).Refusal?.Type);
        Assert.Equal(ProblemTypes.MalformedRequest, (await service.SuspendGrantAsync(Member, grant, new GrantActionRequest(" "), default)).Refusal?.Type);
        Assert.Equal("suspended", (await service.SuspendGrantAsync(Member, grant, new GrantActionRequest("unusual access pattern"), default)).Value!.Status);
        Assert.Equal(ProblemTypes.WrongState, (await service.SuspendGrantAsync(Member, grant, new GrantActionRequest("again"), default)).Refusal?.Type);
        Assert.Equal("active", (await service.ReinstateGrantAsync(Chair, grant, new GrantActionRequest("explained"), default)).Value!.Status);
        Assert.Equal(ProblemTypes.RoleNotAllowed, (await service.RevokeGrantAsync(Member, grant, new GrantActionRequest("x"), default)).Refusal?.Type);
        var revoked = (await service.RevokeGrantAsync(Chair, grant, new GrantActionRequest("breach of conditions"), default)).Value!;
        Assert.Equal("revoked", revoked.Status);
        Assert.Equal("breach of conditions", revoked.StatusReason);
        Assert.Contains(_audit.Entries, e => e.Kind == AuditKinds.GrantSuspended && e.GrantId == grant);
        Assert.Contains(_audit.Entries, e => e.Kind == AuditKinds.GrantRevoked && e.GrantId == grant);
        Assert.Contains(_audit.Entries, e => e.Kind == AuditKinds.GrantReinstated && e.GrantId == grant);
        Assert.Equal(ProblemTypes.NotFound, (await service.RevokeGrantAsync(Chair, Guid.NewGuid(), new GrantActionRequest("x"), default)).Refusal?.Type);
        Assert.Equal([$"publish {grant} dpv:ServiceOptimisation", $"suspend {grant}", $"resume {grant}", $"revoke {grant} {Chair.Ref}"], _offers.Calls);

        var second = await ApprovedGrantAsync(service);
        Assert.Equal(0, await service.ExpireDueGrantsAsync(default));
        _clock.Advance(TimeSpan.FromDays(181));
        Assert.True(await service.ExpireDueGrantsAsync(default) >= 1);
        Assert.Equal("expired", (await service.FindGrantAsync(second, default))!.Status);
        Assert.Equal("revoked", (await service.FindGrantAsync(grant, default))!.Status);
        Assert.Equal(0, await service.ExpireDueGrantsAsync(default));
    }

    [SkippableFact]
    public async Task Invalid_applications_are_refused_with_the_fields_named()
    {
        var service = NewService();
        var bad = Example("fitness-club") with
        {
            Data = [new DataRequest("steps.daily", ["steps", "heartRate"]), new DataRequest("dna.sequence", ["x"])],
            Output = new OutputSpec("aggregate", null, null),
            Recipient = new RecipientSpec("Japan"),
        };
        var result = await service.CreateAsync(Owner(), bad, default);
        Assert.Equal(ProblemTypes.MalformedRequest, result.Refusal?.Type);
        Assert.Contains("data[0].fields", result.Refusal!.Errors!.Keys);
        Assert.Contains("data[1].category", result.Refusal.Errors.Keys);
        Assert.Contains("output.k", result.Refusal.Errors.Keys);
        Assert.Contains("recipient.country", result.Refusal.Errors.Keys);
        await using var c = await Database.Connections.OpenAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM applications WHERE owner_client_id = 'none-such'"));
    }

    [SkippableFact]
    public async Task A_failing_offer_step_undoes_the_committee_step_and_its_audit_entry()
    {
        var service = NewService();
        async Task<(string Status, int Entries)> StateAsync(Guid application)
        {
            var row = await new ApplicationStore(Database.Connections).FindAsync(application, default);
            return (row!.Status, _audit.Entries.Count);
        }

        // The offer cannot be published: the approval, the grant and the decision's entry go with it.
        var owner = Owner();
        var id = (await service.CreateAsync(owner, Example("fitness-club"), default)).Value!.Id;
        await service.SubmitAsync(owner, id, default);
        foreach (var actor in new[] { Member, Secretary, Chair })
        {
            await service.VoteAsync(actor, id, new VoteRequest("approve", "ok", null), default);
        }
        var before = await StateAsync(id);
        _offers.FailNext = "publish";
        await Assert.ThrowsAsync<InvalidOperationException>(() => service.DecideAsync(Chair, id, null, default));
        Assert.Equal(before, await StateAsync(id));
        Assert.Null(await new ApplicationStore(Database.Connections).FindGrantForApplicationAsync(id, default));
        Assert.DoesNotContain(_audit.Entries, e => e.Kind == AuditKinds.CommitteeDecision && e.Payload!.ToString()!.Contains(id.ToString(), StringComparison.Ordinal));

        // Retried, it goes through whole.
        var grant = (await service.DecideAsync(Chair, id, null, default)).Value!.Grant!.Id;
        Assert.Single(_audit.Entries, e => e.Kind == AuditKinds.CommitteeDecision && e.GrantId == grant);

        foreach (var (step, act) in new (string, Func<Task>)[]
        {
            ("suspend", () => service.SuspendGrantAsync(Member, grant, new GrantActionRequest("odd pattern"), default)),
            ("revoke", () => service.RevokeGrantAsync(Chair, grant, new GrantActionRequest("breach"), default)),
        })
        {
            var count = _audit.Entries.Count;
            _offers.FailNext = step;
            await Assert.ThrowsAsync<InvalidOperationException>(act);
            Assert.Equal("active", (await service.FindGrantAsync(grant, default))!.Status);
            Assert.Equal(count, _audit.Entries.Count);
        }
    }

    private static async Task<Guid> ApprovedGrantAsync(ApplicationService service)
    {
        var owner = Owner();
        var id = (await service.CreateAsync(owner, Example("fitness-club"), default)).Value!.Id;
        await service.SubmitAsync(owner, id, default);
        foreach (var actor in new[] { Member, Secretary, Chair })
        {
            await service.VoteAsync(actor, id, new VoteRequest("approve", "ok", null), default);
        }
        return (await service.DecideAsync(Chair, id, null, default)).Value!.Grant!.Id;
    }

    private sealed class TestEnvironment : IHostEnvironment
    {
        public string EnvironmentName { get; set; } = "Testing";

        public string ApplicationName { get; set; } = "InfoBank.Server";

        public string ContentRootPath { get; set; } = AppContext.BaseDirectory;

        public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
    }
}

public sealed class SqliteApplicationServiceTests(SqliteFixture database) : ApplicationServiceTests<SqliteFixture>(database);

public sealed class PostgresApplicationServiceTests(PostgresFixture database) : ApplicationServiceTests<PostgresFixture>(database);

public sealed class SqlServerApplicationServiceTests(SqlServerFixture database) : ApplicationServiceTests<SqlServerFixture>(database);

/// <summary>Records the offer steps; <see cref="FailNext"/> makes one step fail inside the committee step's transaction.</summary>
internal sealed class RecordingGrantOffers : IGrantOffers
{
    public List<string> Calls { get; } = [];

    /// <summary>"publish", "suspend", "resume" or "revoke": that step throws once.</summary>
    public string? FailNext { get; set; }

    public Task<string> RecipientNameAsync(string clientId, CancellationToken cancellationToken) => Task.FromResult(clientId);

    public Task PublishAsync(AuditScope scope, GrantRow grant, ApplicationSpec spec, string recipientName) =>
        Step("publish", grant.Id, $"publish {grant.Id} {spec.Purpose.Code}");

    public Task SuspendAsync(AuditScope scope, Guid grantId) => Step("suspend", grantId, $"suspend {grantId}");

    public Task ResumeAsync(AuditScope scope, Guid grantId) => Step("resume", grantId, $"resume {grantId}");

    public async Task<int> RevokeAsync(AuditScope scope, Guid grantId, string actor)
    {
        await Step("revoke", grantId, $"revoke {grantId} {actor}");
        return 0;
    }

    private Task Step(string name, Guid grantId, string call)
    {
        if (FailNext == name)
        {
            FailNext = null;
            throw new InvalidOperationException($"simulated failure of the {name} step of {grantId}");
        }
        Calls.Add(call);
        return Task.CompletedTask;
    }
}

internal sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
