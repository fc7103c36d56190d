using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using InfoBank.Core.Applications;
using InfoBank.Core.Audit;
using InfoBank.Core.Pia;
using InfoBank.Core.Policy;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Infrastructure.Web;

namespace InfoBank.Server.Features.Applications;

/// <summary>Who is acting: a business client, or a committee account with its role.</summary>
public sealed record Actor(string Ref, string? ClientId = null, Guid? MemberId = null, string? Role = null)
{
    public static Actor Business(string clientId) => new($"client:{clientId}", ClientId: clientId);

    public static Actor Committee(Guid memberId, string role) => new($"committee:{memberId}", MemberId: memberId, Role: role);

    public static readonly Actor System = new("system");
}

/// <summary>
/// Runs the application workflow: each step asks the pure state machine in Core, writes the new
/// state and its events in one transaction (a guarded status update, so racing steps cannot both
/// win), then records the step in the audit log with the rule-file hash before answering.
/// </summary>
public sealed class ApplicationService(ApplicationStore store, RuleCatalogProvider rules, IAuditLog audit, IGrantOffers offers, TimeProvider clock)
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static string Status(ApplicationStatus s) => ApplicationWorkflow.Name(s);

    public async Task<Outcome<ApplicationView>> CreateAsync(string owner, ApplicationSpec? spec, CancellationToken ct)
    {
        var errors = Validate(spec);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        if (LookbackRefusal(spec!) is { } lookback)
        {
            return lookback;
        }
        var now = clock.GetUtcNow();
        var row = new ApplicationRow
        {
            Id = Guid.CreateVersion7(now),
            OwnerClientId = owner,
            Status = Status(ApplicationStatus.Draft),
            Version = 0,
            SpecJson = JsonSerializer.Serialize(spec, Json),
            CreatedAt = now,
            UpdatedAt = now,
        };
        // A draft is the business's own working copy: not a decision, so not audited (submission is).
        await store.Db.InTransactionAsync(async s =>
        {
            await ApplicationStore.InsertApplicationAsync(s, row, ct);
            await Event(s, row.Id, 0, "application.created", Actor.Business(owner), null, now, ct);
            return true;
        }, ct);
        return Outcome<ApplicationView>.Of(await BusinessViewAsync(row, ct));
    }

    public async Task<Outcome<ApplicationView>> UpdateDraftAsync(string owner, Guid id, ApplicationSpec? spec, CancellationToken ct)
    {
        var row = await store.FindAsync(id, ct);
        if (row is null || row.OwnerClientId != owner)
        {
            return NotFound();
        }
        var step = ApplicationWorkflow.Apply(ApplicationWorkflow.Parse(row.Status), new EditDraft());
        if (!step.Allowed)
        {
            return WorkflowRefusals.Of(step.Kind!.Value, step.Refusal!);
        }
        var errors = Validate(spec);
        if (errors.Count > 0)
        {
            return Invalid(errors);
        }
        if (LookbackRefusal(spec!) is { } lookback)
        {
            return lookback;
        }
        var now = clock.GetUtcNow();
        var updated = await store.Db.InTransactionAsync(async s =>
        {
            if (!await ApplicationStore.UpdateDraftAsync(s, id, row.Status, Status(step.To!.Value), JsonSerializer.Serialize(spec, Json), now, ct))
            {
                return false;
            }
            foreach (var kind in step.Events)
            {
                await Event(s, id, row.Version, kind, Actor.Business(owner), null, now, ct);
            }
            return true;
        }, ct);
        if (!updated)
        {
            return Raced();
        }
        return Outcome<ApplicationView>.Of(await BusinessViewAsync((await store.FindAsync(id, ct))!, ct));
    }

    /// <summary>
    /// Freezes the draft as a new version, runs the PIA and the committee policies on it, and moves it
    /// to review — or back to the business when a blocker fires or the policy denies it.
    /// </summary>
    public async Task<Outcome<ApplicationView>> SubmitAsync(string owner, Guid id, CancellationToken ct)
    {
        var row = await store.FindAsync(id, ct);
        if (row is null || row.OwnerClientId != owner)
        {
            return NotFound();
        }
        var submit = ApplicationWorkflow.Apply(ApplicationWorkflow.Parse(row.Status), new SubmitApplication());
        if (!submit.Allowed)
        {
            return WorkflowRefusals.Of(submit.Kind!.Value, submit.Refusal!);
        }
        var spec = JsonSerializer.Deserialize<ApplicationSpec>(row.SpecJson, Json)!;
        // The rule files may have changed since the draft was saved (a field renamed in the inventory).
        // Submit sends no body, so this is no malformed request: the bank refuses the stored draft (422).
        var errors = Validate(spec);
        if (errors.Count > 0)
        {
            return Refusal.Of(ProblemTypes.DraftNoLongerValid, errors,
                "The saved draft no longer passes the current rule files; edit it and submit again.");
        }
        var catalog = rules.Catalog;
        // Informative here (an approval checks again inside its transaction): a deny now saves the
        // committee a vote on an application it could not approve.
        var assessment = catalog.Assess(spec, Held(await store.GrantsInForceAsync(owner, clock.GetUtcNow(), ct)));
        var assess = ApplicationWorkflow.Apply(submit.To!.Value, new RecordAssessment(assessment.Blocked));
        var version = row.Version + 1;
        var actor = Actor.Business(owner);
        var specHash = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(row.SpecJson)));
        var submitted = await audit.CommitAsync(async (scope, ct) =>
        {
            var (s, now) = (scope.Db, scope.Now);
            if (!await ApplicationStore.UpdateStatusAsync(s, id, row.Status, Status(submit.To!.Value), version, now, ct))
            {
                return false;
            }
            await ApplicationStore.InsertVersionAsync(s, new VersionRow
            {
                ApplicationId = id,
                Version = version,
                SpecJson = row.SpecJson,
                SpecHash = specHash,
                SubmittedAt = now,
                PiaJson = JsonSerializer.Serialize(assessment.Pia, Json),
                PolicyJson = JsonSerializer.Serialize(assessment.Policy, Json),
                RuleHash = catalog.Hash,
            }, ct);
            foreach (var kind in submit.Events)
            {
                await Event(s, id, version, kind, actor, new { specHash }, now, ct);
            }
            await ApplicationStore.UpdateStatusAsync(s, id, Status(submit.To!.Value), Status(assess.To!.Value), version, now, ct);
            var summary = AssessmentSummary(assessment);
            foreach (var kind in assess.Events)
            {
                await Event(s, id, version, kind, Actor.System, summary, now, ct);
            }
            scope.Append(new AuditEntryDraft(AuditKinds.ApplicationSubmitted, actor.Ref, Purpose: spec.Purpose.Code, PolicyHash: catalog.Hash,
                Payload: new { applicationId = id, version, specHash }));
            scope.Append(new AuditEntryDraft(AuditKinds.ApplicationAssessed, Actor.System.Ref, Purpose: spec.Purpose.Code, PolicyHash: catalog.Hash,
                Payload: new { applicationId = id, version, status = Status(assess.To!.Value), assessment = summary }));
            return true;
        }, ct);
        if (!submitted)
        {
            return Raced();
        }
        return Outcome<ApplicationView>.Of(await BusinessViewAsync((await store.FindAsync(id, ct))!, ct));
    }

    public async Task<Outcome<ApplicationView>> GetForOwnerAsync(string owner, Guid id, CancellationToken ct)
    {
        var row = await store.FindAsync(id, ct);
        return row is null || row.OwnerClientId != owner ? NotFound() : Outcome<ApplicationView>.Of(await BusinessViewAsync(row, ct));
    }

    /// <summary>One page of the owner's applications, newest first, and where the next page starts (null: none).</summary>
    public async Task<(IReadOnlyList<ApplicationSummary> Page, ApplicationPosition? Next)> ListForOwnerAsync(string owner, ApplicationPosition? after, int limit, CancellationToken ct)
    {
        var (page, more) = Paging.Split(await store.ListByOwnerAsync(owner, after, limit + 1, ct), limit);
        return (page.Select(r => new ApplicationSummary(r.Id, r.Status, r.Version, JsonSerializer.Deserialize<ApplicationSpec>(r.SpecJson, Json)!.Purpose.Code, r.UpdatedAt)).ToList(),
            more ? new ApplicationPosition(page[^1].CreatedAt, page[^1].Id) : null);
    }

    /// <summary>One page of the applications (of one status, or all), least recently changed first, and where the next page starts.</summary>
    public async Task<(IReadOnlyList<CommitteeApplicationSummary> Page, ApplicationPosition? Next)> ListForCommitteeAsync(
        string? status, ApplicationPosition? after, int limit, CancellationToken ct)
    {
        var result = new List<CommitteeApplicationSummary>();
        var (page, more) = Paging.Split(await store.ListByStatusAsync(status, after, limit + 1, ct), limit);
        foreach (var r in page)
        {
            var version = r.Version > 0 ? await store.FindVersionAsync(r.Id, r.Version, ct) : null;
            var votes = r.Version > 0 ? (await store.VotesAsync(r.Id, r.Version, ct)).Count : 0;
            result.Add(new CommitteeApplicationSummary(r.Id, r.OwnerClientId, r.Status, r.Version,
                JsonSerializer.Deserialize<ApplicationSpec>(r.SpecJson, Json)!.Purpose.Code,
                version is null ? null : JsonSerializer.Deserialize<PiaReport>(version.PiaJson, Json)!.Outcome,
                version is null ? null : JsonSerializer.Deserialize<PolicyDecision>(version.PolicyJson, Json)!.Decision,
                votes, r.UpdatedAt));
        }
        return (result, more ? new ApplicationPosition(page[^1].UpdatedAt, page[^1].Id) : null);
    }

    public async Task<Outcome<CommitteeApplicationView>> GetForCommitteeAsync(Guid id, CancellationToken ct)
    {
        var row = await store.FindAsync(id, ct);
        return row is null ? NotFound() : Outcome<CommitteeApplicationView>.Of(await CommitteeViewAsync(row, ct));
    }

    public async Task<Outcome<CommitteeApplicationView>> VoteAsync(Actor member, Guid id, VoteRequest? request, CancellationToken ct)
    {
        if (request is null)
        {
            return Invalid(new() { ["vote"] = ["a vote (approve, approve_with_conditions or reject) and a reason are required"] });
        }
        var row = await store.FindAsync(id, ct);
        if (row is null)
        {
            return NotFound();
        }
        var governance = rules.Catalog.Policies.Governance;
        var now = clock.GetUtcNow();
        var vote = new CommitteeVote(member.MemberId!.Value, member.Role!, request.Vote ?? "", request.Reason ?? "",
            (request.Conditions ?? []).Select(c => c?.Trim() ?? "").Where(c => c.Length > 0).ToList(), now);
        if (vote.Reason.Length > 2000 || vote.Conditions.Count > 20 || vote.Conditions.Any(c => c.Length > 500))
        {
            return Invalid(new() { ["reason"] = ["a reason is at most 2000 characters; at most 20 conditions of 500 characters each"] });
        }
        var refused = await audit.CommitAsync(async (scope, ct) =>
        {
            var s = scope.Db;
            var existing = (await ApplicationStore.VotesAsync(s, id, row.Version, ct)).Select(ToVote).ToList();
            var step = ApplicationWorkflow.Apply(ApplicationWorkflow.Parse(row.Status), new CastVote(vote, existing, governance));
            if (!step.Allowed)
            {
                return WorkflowRefusals.Of(step.Kind!.Value, step.Refusal!);
            }
            var inserted = await ApplicationStore.InsertVoteAsync(s, new VoteRow
            {
                ApplicationId = id,
                Version = row.Version,
                MemberId = vote.MemberId,
                Role = vote.Role,
                Choice = vote.Choice,
                Reason = vote.Reason,
                ConditionsJson = JsonSerializer.Serialize(vote.Conditions, Json),
                CastAt = now,
            }, ct);
            if (!inserted)
            {
                return WorkflowRefusals.Of(RefusalKind.Duplicate, "this member has already voted on this version");
            }
            await Event(s, id, row.Version, "committee.vote", member, new { role = vote.Role, vote = vote.Choice }, now, ct);
            scope.Append(new AuditEntryDraft(AuditKinds.CommitteeVote, member.Ref, PolicyHash: rules.Catalog.Hash,
                Payload: new { applicationId = id, version = row.Version, role = vote.Role, vote = vote.Choice, reason = vote.Reason, conditions = vote.Conditions }));
            return null;
        }, ct);
        return refused ?? Outcome<CommitteeApplicationView>.Of(await CommitteeViewAsync((await store.FindAsync(id, ct))!, ct));
    }

    /// <summary>Tallies the votes under the policy's quorum; approval creates the time-limited grant in the same transaction.</summary>
    public async Task<Outcome<CommitteeApplicationView>> DecideAsync(Actor member, Guid id, DecisionRequest? request, CancellationToken ct)
    {
        var row = await store.FindAsync(id, ct);
        if (row is null)
        {
            return NotFound();
        }
        var note = request?.Note?.Trim();
        if (note is { Length: > 2000 })
        {
            return Invalid(new() { ["note"] = ["a note is at most 2000 characters"] });
        }
        var catalog = rules.Catalog;
        var governance = catalog.Policies.Governance;
        var version = row.Version > 0 ? await store.FindVersionAsync(id, row.Version, ct) : null;
        // The decision is judged under the rules the version was assessed with; the hash says which.
        var ruleHash = version?.RuleHash ?? catalog.Hash;
        // Read before the transaction (the client directory is another store); used only on approval.
        var recipientName = await offers.RecipientNameAsync(row.OwnerClientId, ct);
        var refused = await audit.CommitAsync(async (scope, ct) =>
        {
            var (s, now) = (scope.Db, scope.Now);
            var votes = (await ApplicationStore.VotesAsync(s, id, row.Version, ct)).Select(ToVote).ToList();
            var step = ApplicationWorkflow.Apply(ApplicationWorkflow.Parse(row.Status), new DecideApplication(member.Role!, votes, governance));
            if (!step.Allowed)
            {
                return WorkflowRefusals.Of(step.Kind!.Value, step.Refusal!);
            }
            var spec = step.Decision!.Approved ? JsonSerializer.Deserialize<ApplicationSpec>(version!.SpecJson, Json)! : null;
            if (spec is not null && await PolicyDeniesApprovalAsync(s, catalog, spec, row.OwnerClientId, now, ct) is { } denied)
            {
                return denied;
            }
            if (!await ApplicationStore.UpdateStatusAsync(s, id, row.Status, Status(step.To!.Value), row.Version, now, ct))
            {
                return Raced();
            }
            var outcome = step.Decision!;
            await ApplicationStore.InsertDecisionAsync(s, new DecisionRow
            {
                ApplicationId = id,
                Version = row.Version,
                Outcome = outcome.Approved ? "approved" : "rejected",
                DecisionJson = JsonSerializer.Serialize(new StoredDecision(outcome, note, member.Role!), Json),
                DecidedBy = member.Ref,
                DecidedAt = now,
                RuleHash = ruleHash,
            }, ct);
            var grant = spec is null ? null : NewGrant(row, spec, outcome, Math.Min(spec.ValidityDays, governance.MaxGrantDays), ruleHash, now);
            if (grant is not null)
            {
                await ApplicationStore.InsertGrantAsync(s, grant, ct);
            }
            foreach (var kind in step.Events)
            {
                await Event(s, id, row.Version, kind, member, new { grantId = grant?.Id, outcome.Approvals, outcome.Rejections, outcome.Conditions }, now, ct);
            }
            scope.Append(new AuditEntryDraft(AuditKinds.CommitteeDecision, member.Ref, GrantId: grant?.Id, PolicyHash: ruleHash,
                Payload: new { applicationId = id, version = row.Version, outcome = Status(step.To!.Value), outcome.Approvals, outcome.Rejections, outcome.ChairBrokeTie, outcome.Conditions }));
            if (grant is not null)
            {
                // The offer residents opt into commits with the grant that approves it.
                await offers.PublishAsync(scope, grant, spec!, recipientName);
            }
            return null;
        }, ct);
        return refused ?? Outcome<CommitteeApplicationView>.Of(await CommitteeViewAsync((await store.FindAsync(id, ct))!, ct));
    }

    /// <summary>
    /// The approval judged again with the recipient's grants in force now, inside the transaction:
    /// every audited commit holds the log's write lock, so a second approval for the same recipient
    /// waits and then sees this one's grant. Null when the policy does not deny it.
    /// </summary>
    private static async Task<Refusal?> PolicyDeniesApprovalAsync(
        DbSession s, InfoBank.Core.Rules.RuleCatalog catalog, ApplicationSpec spec, string recipient, DateTimeOffset now, CancellationToken ct)
    {
        var policy = catalog.Decide(spec, Held(await ApplicationStore.GrantsInForceAsync(s, recipient, now, ct)));
        if (policy.Decision != PolicyDecisions.Deny)
        {
            return null;
        }
        var forbidding = policy.Matched.Where(m => m.Effect == PolicyEffects.Forbid).Select(m => m.RuleId).ToList();
        return WorkflowRefusals.Of(RefusalKind.PolicyDenies,
            $"the committee policy denies approving this version now ({string.Join(", ", forbidding)}); reject it or end the overlapping grant first")
            .With("rules", forbidding);
    }

    // The grant an approval creates: the approved version's terms, valid from now for the given days.
    private static GrantRow NewGrant(ApplicationRow row, ApplicationSpec spec, DecisionOutcome outcome, int days, string ruleHash, DateTimeOffset now) => new()
    {
        Id = Guid.CreateVersion7(now),
        ApplicationId = row.Id,
        Version = row.Version,
        RecipientClientId = row.OwnerClientId,
        Status = GrantWorkflow.Name(GrantStatus.Active),
        ValidFrom = now,
        ValidUntil = now.AddDays(days),
        PurposeCode = spec.Purpose.Code,
        DataJson = JsonSerializer.Serialize(spec.Data, Json),
        OutputKind = spec.Output.Kind,
        MinGroupSize = spec.Output.K,
        FetchFrequency = spec.Fetch.Frequency,
        MaxRecordsPerFetch = spec.Fetch.MaxRecordsPerFetch,
        RetentionDays = spec.RetentionDays,
        BenefitPoints = spec.Benefit.Points,
        ConditionsJson = JsonSerializer.Serialize(outcome.Conditions, Json),
        PolicyHash = ruleHash,
        CreatedAt = now,
        UpdatedAt = now,
    };

    public Task<Outcome<GrantView>> SuspendGrantAsync(Actor member, Guid grantId, GrantActionRequest? request, CancellationToken ct) =>
        ChangeGrantAsync(member, grantId, request, new SuspendGrant(member.Role!, rules.Catalog.Policies.Governance), AuditKinds.GrantSuspended,
            (scope, id) => offers.SuspendAsync(scope, id), ct);

    public Task<Outcome<GrantView>> ReinstateGrantAsync(Actor member, Guid grantId, GrantActionRequest? request, CancellationToken ct) =>
        ChangeGrantAsync(member, grantId, request, new ReinstateGrant(member.Role!, rules.Catalog.Policies.Governance), AuditKinds.GrantReinstated,
            (scope, id) => offers.ResumeAsync(scope, id), ct);

    public Task<Outcome<GrantView>> RevokeGrantAsync(Actor member, Guid grantId, GrantActionRequest? request, CancellationToken ct) =>
        ChangeGrantAsync(member, grantId, request, new RevokeGrant(member.Role!, rules.Catalog.Policies.Governance), AuditKinds.GrantRevoked,
            (scope, id) => offers.RevokeAsync(scope, id, member.Ref), ct);

    /// <summary>Expires grants whose validity has ended (run by the recurring job; idempotent).</summary>
    public async Task<int> ExpireDueGrantsAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var expired = 0;
        foreach (var grant in await store.GrantsDueToExpireAsync(now, ct))
        {
            // The offer's own window ends at the same time; consent's expiry job expires its consents.
            var result = await ChangeGrantAsync(Actor.System, grant.Id, new GrantActionRequest("validity period ended"), new ExpireGrant(), null, null, ct);
            expired += result.Succeeded ? 1 : 0;
        }
        return expired;
    }

    private async Task<Outcome<GrantView>> ChangeGrantAsync(
        Actor actor, Guid grantId, GrantActionRequest? request, GrantCommand command, string? auditKind, Func<AuditScope, Guid, Task>? offerStep, CancellationToken ct)
    {
        var reason = request?.Reason?.Trim();
        if (string.IsNullOrEmpty(reason) || reason.Length > 2000)
        {
            return Invalid(new() { ["reason"] = ["a reason (at most 2000 characters) is required"] });
        }
        var refused = await audit.CommitAsync(async (scope, ct) =>
        {
            var (s, now) = (scope.Db, scope.Now);
            var grant = await ApplicationStore.FindGrantAsync(s, grantId, ct);
            if (grant is null)
            {
                return Refusal.Of(ProblemTypes.NotFound, $"No grant {grantId}.");
            }
            var step = GrantWorkflow.Apply(GrantWorkflow.Parse(grant.Status), command);
            if (!step.Allowed)
            {
                return WorkflowRefusals.Of(step.Kind!.Value, step.Refusal!);
            }
            if (!await ApplicationStore.UpdateGrantStatusAsync(s, grantId, grant.Status, GrantWorkflow.Name(step.To!.Value), reason, now, ct))
            {
                return WorkflowRefusals.Of(RefusalKind.WrongState, "the grant changed while this request was handled; read it again");
            }
            foreach (var kind in step.Events)
            {
                await Event(s, grant.ApplicationId, grant.Version, kind, actor, new { grantId, reason }, now, ct);
            }
            if (auditKind is not null)
            {
                scope.Append(new AuditEntryDraft(auditKind, actor.Ref, Purpose: grant.PurposeCode, GrantId: grantId, PolicyHash: grant.PolicyHash,
                    Payload: new { applicationId = grant.ApplicationId, reason }));
            }
            if (offerStep is not null)
            {
                // The offer (and every consent a revocation ends) changes in the grant's own transaction.
                await offerStep(scope, grantId);
            }
            return null;
        }, ct);
        return refused ?? Outcome<GrantView>.Of(ToGrantView((await store.FindGrantAsync(grantId, ct))!));
    }

    public async Task<GrantView?> FindGrantAsync(Guid grantId, CancellationToken ct) =>
        await store.FindGrantAsync(grantId, ct) is { } g ? ToGrantView(g) : null;

    private Dictionary<string, string[]> Validate(ApplicationSpec? spec) =>
        ApplicationSpecValidation.Validate(spec, rules.Catalog.Inventory, rules.Catalog.Purposes);

    // The look-back becomes the offer's data window, a promise to residents: the bank offers at most a
    // year before a resident's first consent, so a longer one is refused (422), not a malformed request.
    private static Refusal? LookbackRefusal(ApplicationSpec spec) =>
        spec.LookbackDays is < 0 or > InfoBank.Core.Consent.NoticeDataWindow.MaxLookbackDays
            ? Refusal.Of(ProblemTypes.LookbackOutOfRange,
                new Dictionary<string, string[]> { ["lookbackDays"] = [$"must be between 0 (from the day a resident consents) and {InfoBank.Core.Consent.NoticeDataWindow.MaxLookbackDays}, not {spec.LookbackDays}"] },
                "The application's data window is outside what the bank offers.")
            : null;

    private static object AssessmentSummary(InfoBank.Core.Rules.Assessment a) => new
    {
        pia = a.Pia.Outcome,
        piaRules = a.Pia.FiredRuleIds.ToList(),
        policy = a.Policy.Decision,
        policyRules = a.Policy.MatchedRuleIds,
        fullAssessment = a.Pia.FullAssessmentRequired,
    };

    private static Task Event(DbSession s, Guid id, int version, string kind, Actor actor, object? payload, DateTimeOffset now, CancellationToken ct) =>
        ApplicationStore.InsertEventAsync(s, new EventRow
        {
            ApplicationId = id,
            Version = version,
            Kind = kind,
            Actor = actor.Ref,
            OccurredAt = now,
            PayloadJson = payload is null ? null : JsonSerializer.Serialize(payload, Json),
        }, ct);

    private static CommitteeVote ToVote(VoteRow v) =>
        new(v.MemberId, v.Role, v.Choice, v.Reason, JsonSerializer.Deserialize<List<string>>(v.ConditionsJson, Json)!, v.CastAt);

    private static List<HeldGrant> Held(IReadOnlyList<GrantRow> grants) => grants
        .Select(g => new HeldGrant(g.Id, g.OutputKind, JsonSerializer.Deserialize<List<DataRequest>>(g.DataJson, Json)!.Select(d => d.Category).ToList()))
        .ToList();

    private static Refusal NotFound() => Refusal.Of(ProblemTypes.NotFound, "No such application.");

    private static Refusal Raced() =>
        WorkflowRefusals.Of(RefusalKind.WrongState, "the application changed while this request was handled; read it again");

    // The spec or command cannot be read as one the workflow takes: a missing or out-of-range member (400).
    private static Refusal Invalid(Dictionary<string, string[]> errors) => Refusal.Of(ProblemTypes.MalformedRequest, errors, "The request is not valid.");

    private sealed record StoredDecision(DecisionOutcome Outcome, string? Note, string DeciderRole);

    private async Task<(AssessmentView?, IReadOnlyList<VoteRow>, DecisionView?, GrantView?)> DetailsAsync(ApplicationRow row, bool withMemberIds, CancellationToken ct)
    {
        if (row.Version == 0)
        {
            return (null, [], null, null);
        }
        var version = await store.FindVersionAsync(row.Id, row.Version, ct);
        var assessment = version is null ? null : new AssessmentView(version.Version, version.SubmittedAt, version.SpecHash,
            JsonSerializer.Deserialize<PiaReport>(version.PiaJson, Json)!, JsonSerializer.Deserialize<PolicyDecision>(version.PolicyJson, Json)!, version.RuleHash);
        var votes = await store.VotesAsync(row.Id, row.Version, ct);
        var decisionRow = await store.FindDecisionAsync(row.Id, row.Version, ct);
        DecisionView? decision = null;
        if (decisionRow is not null)
        {
            var stored = JsonSerializer.Deserialize<StoredDecision>(decisionRow.DecisionJson, Json)!;
            decision = new DecisionView(decisionRow.Outcome, stored.Outcome.Conditions, stored.Outcome.Approvals, stored.Outcome.Rejections,
                stored.Outcome.ChairBrokeTie, stored.Note, votes.Select(v => ToVoteView(v, withMemberIds)).ToList(), decisionRow.DecidedAt, decisionRow.RuleHash);
        }
        var grant = await store.FindGrantForApplicationAsync(row.Id, ct);
        return (assessment, votes, decision, grant is null ? null : ToGrantView(grant));
    }

    private async Task<ApplicationView> BusinessViewAsync(ApplicationRow row, CancellationToken ct)
    {
        // Member identities stay inside the committee; the business sees each vote's role and reason.
        var (assessment, _, decision, grant) = await DetailsAsync(row, withMemberIds: false, ct);
        return new ApplicationView(row.Id, row.Status, row.Version, row.CreatedAt, row.UpdatedAt,
            JsonSerializer.Deserialize<ApplicationSpec>(row.SpecJson, Json)!, assessment, decision, grant);
    }

    private async Task<CommitteeApplicationView> CommitteeViewAsync(ApplicationRow row, CancellationToken ct)
    {
        var (assessment, votes, decision, grant) = await DetailsAsync(row, withMemberIds: true, ct);
        var events = (await store.EventsAsync(row.Id, ct))
            .Select(e => new EventView(e.Version, e.Kind, e.Actor, e.OccurredAt, e.PayloadJson is null ? null : JsonSerializer.Deserialize<JsonElement>(e.PayloadJson)))
            .ToList();
        return new CommitteeApplicationView(row.Id, row.OwnerClientId, row.Status, row.Version, row.CreatedAt, row.UpdatedAt,
            JsonSerializer.Deserialize<ApplicationSpec>(row.SpecJson, Json)!, assessment, votes.Select(v => ToVoteView(v, true)).ToList(), decision, grant, events);
    }

    private static VoteView ToVoteView(VoteRow v, bool withMemberId) =>
        new(withMemberId ? v.MemberId : null, v.Role, v.Choice, v.Reason, JsonSerializer.Deserialize<List<string>>(v.ConditionsJson, Json)!, v.CastAt);

    internal static GrantView ToGrantView(GrantRow g) => new(g.Id, g.ApplicationId, g.RecipientClientId, g.Status, g.ValidFrom, g.ValidUntil, g.PurposeCode,
        JsonSerializer.Deserialize<List<DataRequest>>(g.DataJson, Json)!, g.OutputKind, g.MinGroupSize, g.FetchFrequency, g.MaxRecordsPerFetch,
        g.RetentionDays, g.BenefitPoints, JsonSerializer.Deserialize<List<string>>(g.ConditionsJson, Json)!, g.PolicyHash, g.StatusReason);
}
