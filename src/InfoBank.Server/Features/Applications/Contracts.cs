using System.Text.Json;
using InfoBank.Core.Applications;
using InfoBank.Core.Pia;
using InfoBank.Core.Policy;

namespace InfoBank.Server.Features.Applications;

public sealed record VoteRequest(string Vote, string Reason, IReadOnlyList<string>? Conditions);

public sealed record DecisionRequest(string? Note);

public sealed record GrantActionRequest(string Reason);

/// <summary>The assessment of one submitted (frozen) version.</summary>
public sealed record AssessmentView(int Version, DateTimeOffset SubmittedAt, string SpecHash, PiaReport Pia, PolicyDecision Policy, string RuleHash);

public sealed record VoteView(Guid? MemberId, string Role, string Vote, string Reason, IReadOnlyList<string> Conditions, DateTimeOffset CastAt);

/// <summary>The committee's decision with every vote's reason and the conditions attached.</summary>
public sealed record DecisionView(
    string Outcome,
    IReadOnlyList<string> Conditions,
    int Approvals,
    int Rejections,
    bool ChairBrokeTie,
    string? Note,
    IReadOnlyList<VoteView> Votes,
    DateTimeOffset DecidedAt,
    string RuleHash);

public sealed record GrantView(
    Guid Id,
    Guid ApplicationId,
    string RecipientClientId,
    string Status,
    DateTimeOffset ValidFrom,
    DateTimeOffset ValidUntil,
    string PurposeCode,
    IReadOnlyList<DataRequest> Data,
    string OutputKind,
    int? MinGroupSize,
    string FetchFrequency,
    int? MaxRecordsPerFetch,
    int RetentionDays,
    int BenefitPoints,
    IReadOnlyList<string> Conditions,
    string PolicyHash,
    string? StatusReason);

public sealed record EventView(int Version, string Kind, string Actor, DateTimeOffset At, JsonElement? Details);

/// <summary>What the business sees of its own application.</summary>
public sealed record ApplicationView(
    Guid Id,
    string Status,
    int Version,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    ApplicationSpec Application,
    AssessmentView? Assessment,
    DecisionView? Decision,
    GrantView? Grant);

/// <summary>What the committee sees: the business's view plus the applicant, the open votes and the event history.</summary>
public sealed record CommitteeApplicationView(
    Guid Id,
    string OwnerClientId,
    string Status,
    int Version,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    ApplicationSpec Application,
    AssessmentView? Assessment,
    IReadOnlyList<VoteView> Votes,
    DecisionView? Decision,
    GrantView? Grant,
    IReadOnlyList<EventView> Events);

public sealed record CommitteeApplicationSummary(Guid Id, string OwnerClientId, string Status, int Version, string PurposeCode, string? PiaOutcome, string? PolicyDecision, int Votes, DateTimeOffset UpdatedAt);

public sealed record ApplicationSummary(Guid Id, string Status, int Version, string PurposeCode, DateTimeOffset UpdatedAt);
