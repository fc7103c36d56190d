using System.Data.Common;
using Dapper;
using InfoBank.Server.Infrastructure.Db;

namespace InfoBank.Server.Features.Applications;

public sealed class ApplicationRow
{
    public Guid Id { get; set; }

    public string OwnerClientId { get; set; } = "";

    public string Status { get; set; } = "";

    public int Version { get; set; }

    public string SpecJson { get; set; } = "";

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

public sealed class VersionRow
{
    public Guid ApplicationId { get; set; }

    public int Version { get; set; }

    public string SpecJson { get; set; } = "";

    public string SpecHash { get; set; } = "";

    public DateTimeOffset SubmittedAt { get; set; }

    public string PiaJson { get; set; } = "";

    public string PolicyJson { get; set; } = "";

    public string RuleHash { get; set; } = "";
}

public sealed class EventRow
{
    public Guid ApplicationId { get; set; }

    public int Version { get; set; }

    public string Kind { get; set; } = "";

    public string Actor { get; set; } = "";

    public DateTimeOffset OccurredAt { get; set; }

    public string? PayloadJson { get; set; }
}

public sealed class VoteRow
{
    public Guid ApplicationId { get; set; }

    public int Version { get; set; }

    public Guid MemberId { get; set; }

    public string Role { get; set; } = "";

    public string Choice { get; set; } = "";

    public string Reason { get; set; } = "";

    public string ConditionsJson { get; set; } = "[]";

    public DateTimeOffset CastAt { get; set; }
}

public sealed class DecisionRow
{
    public Guid ApplicationId { get; set; }

    public int Version { get; set; }

    public string Outcome { get; set; } = "";

    public string DecisionJson { get; set; } = "";

    public string DecidedBy { get; set; } = "";

    public DateTimeOffset DecidedAt { get; set; }

    public string RuleHash { get; set; } = "";
}

public sealed class GrantRow
{
    public Guid Id { get; set; }

    public Guid ApplicationId { get; set; }

    public int Version { get; set; }

    public string RecipientClientId { get; set; } = "";

    public string Status { get; set; } = "";

    public DateTimeOffset ValidFrom { get; set; }

    public DateTimeOffset ValidUntil { get; set; }

    public string PurposeCode { get; set; } = "";

    public string DataJson { get; set; } = "";

    public string OutputKind { get; set; } = "";

    public int? MinGroupSize { get; set; }

    public string FetchFrequency { get; set; } = "";

    public int? MaxRecordsPerFetch { get; set; }

    public int RetentionDays { get; set; }

    public int BenefitPoints { get; set; }

    public string ConditionsJson { get; set; } = "[]";

    public string PolicyHash { get; set; } = "";

    public string? StatusReason { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>Where a page of an application list ends: created at (the owner's list) or updated at (the committee's), and the id.</summary>
public sealed record ApplicationPosition(DateTimeOffset At, Guid Id);

/// <summary>
/// Applications, versions, events, votes, decisions and grants. Every status change is a guarded
/// UPDATE (<c>WHERE status = @from</c>) inside the caller's transaction, so two racing steps cannot
/// both succeed: the loser sees zero rows and reports a conflict.
/// </summary>
public sealed class ApplicationStore(DbConnectionFactory db)
{
    private const string AppColumns =
        "id, owner_client_id, status, version, spec_json, created_at, updated_at";

    private const string InsertApplicationSql = """
        INSERT INTO applications (id, owner_client_id, status, version, spec_json, created_at, updated_at)
        VALUES (@Id, @OwnerClientId, @Status, @Version, @SpecJson, @CreatedAt, @UpdatedAt)
        """;

    private const string SelectApplicationSql = $"SELECT {AppColumns} FROM applications WHERE id = @id";

    // Keyset pages: newest first for the owner; for the committee, least recently changed first,
    // with the id breaking ties. An application changed between two pages moves behind the cursor
    // and may be listed again later, never skipped.
    private const string SelectByOwnerSql = $"""
        SELECT {AppColumns} FROM applications WHERE owner_client_id = @owner
          AND (@afterAt IS NULL OR created_at < @afterAt OR (created_at = @afterAt AND id < @afterId))
        ORDER BY created_at DESC, id DESC
        """;

    private const string AfterUpdatedSql = """
        (@afterAt IS NULL OR updated_at > @afterAt OR (updated_at = @afterAt AND id > @afterId))
        ORDER BY updated_at, id
        """;

    // Two texts rather than "@status IS NULL OR …", which would keep the planner off ix_applications_status.
    private const string SelectByStatusSql = $"SELECT {AppColumns} FROM applications WHERE status = @status AND {AfterUpdatedSql}";

    private const string SelectAllSql = $"SELECT {AppColumns} FROM applications WHERE {AfterUpdatedSql}";

    private const string UpdateDraftSql = """
        UPDATE applications SET spec_json = @spec, status = @to, updated_at = @now
        WHERE id = @id AND status = @from
        """;

    private const string UpdateStatusSql = """
        UPDATE applications SET status = @to, version = @version, updated_at = @now
        WHERE id = @id AND status = @from
        """;

    private const string InsertVersionSql = """
        INSERT INTO application_versions (application_id, version, spec_json, spec_hash, submitted_at, pia_json, policy_json, rule_hash)
        VALUES (@ApplicationId, @Version, @SpecJson, @SpecHash, @SubmittedAt, @PiaJson, @PolicyJson, @RuleHash)
        """;

    private const string SelectVersionSql = """
        SELECT application_id, version, spec_json, spec_hash,
               submitted_at, pia_json, policy_json, rule_hash
        FROM application_versions WHERE application_id = @id AND version = @version
        """;

    private const string InsertEventSql = """
        INSERT INTO application_events (application_id, version, kind, actor, occurred_at, payload_json)
        VALUES (@ApplicationId, @Version, @Kind, @Actor, @OccurredAt, @PayloadJson)
        """;

    private const string SelectEventsSql = """
        SELECT application_id, version, kind, actor, occurred_at, payload_json
        FROM application_events WHERE application_id = @id ORDER BY id
        """;

    private const string VoteColumns =
        "application_id, version, member_id, role, choice, reason, conditions_json, cast_at";

    private const string SelectVotesSql = $"SELECT {VoteColumns} FROM committee_votes WHERE application_id = @id AND version = @version ORDER BY cast_at, member_id";

    private const string InsertDecisionSql = """
        INSERT INTO committee_decisions (application_id, version, outcome, decision_json, decided_by, decided_at, rule_hash)
        VALUES (@ApplicationId, @Version, @Outcome, @DecisionJson, @DecidedBy, @DecidedAt, @RuleHash)
        """;

    private const string SelectDecisionSql = """
        SELECT application_id, version, outcome, decision_json,
               decided_by, decided_at, rule_hash
        FROM committee_decisions WHERE application_id = @id AND version = @version
        """;

    private const string GrantColumns = """
        id, application_id, version, recipient_client_id, status,
        valid_from, valid_until, purpose_code, data_json, output_kind,
        min_group_size, fetch_frequency, max_records_per_fetch,
        retention_days, benefit_points, conditions_json, policy_hash,
        status_reason, created_at, updated_at
        """;

    private const string InsertGrantSql = """
        INSERT INTO grants (id, application_id, version, recipient_client_id, status, valid_from, valid_until, purpose_code, data_json,
                            output_kind, min_group_size, fetch_frequency, max_records_per_fetch, retention_days, benefit_points,
                            conditions_json, policy_hash, status_reason, created_at, updated_at)
        VALUES (@Id, @ApplicationId, @Version, @RecipientClientId, @Status, @ValidFrom, @ValidUntil, @PurposeCode, @DataJson,
                @OutputKind, @MinGroupSize, @FetchFrequency, @MaxRecordsPerFetch, @RetentionDays, @BenefitPoints,
                @ConditionsJson, @PolicyHash, @StatusReason, @CreatedAt, @UpdatedAt)
        """;

    private const string SelectGrantSql = $"SELECT {GrantColumns} FROM grants WHERE id = @id";

    private const string SelectGrantByApplicationSql = $"SELECT {GrantColumns} FROM grants WHERE application_id = @id";

    private const string SelectGrantsDueSql = $"SELECT {GrantColumns} FROM grants WHERE status IN ('active', 'suspended') AND valid_until <= @now ORDER BY valid_until, id";

    private const string SelectGrantsInForceSql =
        $"SELECT {GrantColumns} FROM grants WHERE recipient_client_id = @recipient AND status IN ('active', 'suspended') AND valid_until > @now ORDER BY id";

    private const string UpdateGrantStatusSql = """
        UPDATE grants SET status = @to, status_reason = @reason, updated_at = @now
        WHERE id = @id AND status = @from
        """;

    public DbConnectionFactory Db => db;

    private static readonly string[] VoteInsertColumns = ["application_id", "version", "member_id", "role", "choice", "reason", "conditions_json", "cast_at"];

    public static Task InsertApplicationAsync(DbSession s, ApplicationRow row, CancellationToken ct) =>
        s.Connection.ExecuteAsync(s.Command(InsertApplicationSql, row, ct));

    public Task<ApplicationRow?> FindAsync(Guid id, CancellationToken ct) => db.ReadAsync(s => FindAsync(s, id, ct), ct);

    public static Task<ApplicationRow?> FindAsync(DbSession s, Guid id, CancellationToken ct) =>
        s.Connection.QuerySingleOrDefaultAsync<ApplicationRow>(s.Command(SelectApplicationSql, new { id }, ct));

    /// <summary>The owner's applications, newest first, after <paramref name="after"/>; <paramref name="limit"/> rows at most.</summary>
    public async Task<IReadOnlyList<ApplicationRow>> ListByOwnerAsync(string owner, ApplicationPosition? after, int limit, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return (await c.QueryAsync<ApplicationRow>(new CommandDefinition(SelectByOwnerSql + db.Dialect.Limit("limit"),
            new { owner, afterAt = after?.At, afterId = after?.Id, limit }, cancellationToken: ct))).ToList();
    }

    /// <summary>Applications (of one status, or all), least recently changed first, after <paramref name="after"/>; <paramref name="limit"/> rows at most.</summary>
    public async Task<IReadOnlyList<ApplicationRow>> ListByStatusAsync(string? status, ApplicationPosition? after, int limit, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return (await c.QueryAsync<ApplicationRow>(new CommandDefinition((status is null ? SelectAllSql : SelectByStatusSql) + db.Dialect.Limit("limit"),
            new { status, afterAt = after?.At, afterId = after?.Id, limit }, cancellationToken: ct))).ToList();
    }

    public static async Task<bool> UpdateDraftAsync(DbSession s, Guid id, string from, string to, string spec, DateTimeOffset now, CancellationToken ct) =>
        await s.Connection.ExecuteAsync(s.Command(UpdateDraftSql, new { id, from, to, spec, now }, ct)) == 1;

    public static async Task<bool> UpdateStatusAsync(DbSession s, Guid id, string from, string to, int version, DateTimeOffset now, CancellationToken ct) =>
        await s.Connection.ExecuteAsync(s.Command(UpdateStatusSql, new { id, from, to, version, now }, ct)) == 1;

    public static Task InsertVersionAsync(DbSession s, VersionRow row, CancellationToken ct) =>
        s.Connection.ExecuteAsync(s.Command(InsertVersionSql, row, ct));

    public async Task<VersionRow?> FindVersionAsync(Guid id, int version, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.QuerySingleOrDefaultAsync<VersionRow>(new CommandDefinition(SelectVersionSql, new { id, version }, cancellationToken: ct));
    }

    public static Task InsertEventAsync(DbSession s, EventRow row, CancellationToken ct) =>
        s.Connection.ExecuteAsync(s.Command(InsertEventSql, row, ct));

    public async Task<IReadOnlyList<EventRow>> EventsAsync(Guid id, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return (await c.QueryAsync<EventRow>(new CommandDefinition(SelectEventsSql, new { id }, cancellationToken: ct))).ToList();
    }

    public static async Task<IReadOnlyList<VoteRow>> VotesAsync(DbSession s, Guid id, int version, CancellationToken ct) =>
        (await s.Connection.QueryAsync<VoteRow>(s.Command(SelectVotesSql, new { id, version }, ct))).ToList();

    public Task<IReadOnlyList<VoteRow>> VotesAsync(Guid id, int version, CancellationToken ct) => db.ReadAsync(s => VotesAsync(s, id, version, ct), ct);

    /// <summary>Inserts a vote unless this member already voted on this version; false when they had.</summary>
    public static async Task<bool> InsertVoteAsync(DbSession s, VoteRow row, CancellationToken ct)
    {
        var sql = s.Dialect.InsertIgnoringDuplicates("committee_votes", VoteInsertColumns, ["application_id", "version", "member_id"]);
        return await s.Connection.ExecuteAsync(s.Command(sql, new
        {
            application_id = row.ApplicationId,
            version = row.Version,
            member_id = row.MemberId,
            role = row.Role,
            choice = row.Choice,
            reason = row.Reason,
            conditions_json = row.ConditionsJson,
            cast_at = row.CastAt,
        }, ct)) == 1;
    }

    public static Task InsertDecisionAsync(DbSession s, DecisionRow row, CancellationToken ct) =>
        s.Connection.ExecuteAsync(s.Command(InsertDecisionSql, row, ct));

    public async Task<DecisionRow?> FindDecisionAsync(Guid id, int version, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.QuerySingleOrDefaultAsync<DecisionRow>(new CommandDefinition(SelectDecisionSql, new { id, version }, cancellationToken: ct));
    }

    public static Task InsertGrantAsync(DbSession s, GrantRow row, CancellationToken ct) =>
        s.Connection.ExecuteAsync(s.Command(InsertGrantSql, row, ct));

    public Task<GrantRow?> FindGrantAsync(Guid id, CancellationToken ct) => db.ReadAsync(s => FindGrantAsync(s, id, ct), ct);

    public static Task<GrantRow?> FindGrantAsync(DbSession s, Guid id, CancellationToken ct) =>
        s.Connection.QuerySingleOrDefaultAsync<GrantRow>(s.Command(SelectGrantSql, new { id }, ct));

    public async Task<GrantRow?> FindGrantForApplicationAsync(Guid applicationId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.QuerySingleOrDefaultAsync<GrantRow>(new CommandDefinition(SelectGrantByApplicationSql, new { id = applicationId }, cancellationToken: ct));
    }

    public async Task<IReadOnlyList<GrantRow>> GrantsDueToExpireAsync(DateTimeOffset now, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return (await c.QueryAsync<GrantRow>(new CommandDefinition(SelectGrantsDueSql, new { now }, cancellationToken: ct))).ToList();
    }

    /// <summary>
    /// The grants <paramref name="recipient"/> holds at <paramref name="now"/>: active or suspended (a
    /// suspended grant can be reinstated) and not yet expired.
    /// </summary>
    public Task<IReadOnlyList<GrantRow>> GrantsInForceAsync(string recipient, DateTimeOffset now, CancellationToken ct) =>
        db.ReadAsync(s => GrantsInForceAsync(s, recipient, now, ct), ct);

    public static async Task<IReadOnlyList<GrantRow>> GrantsInForceAsync(DbSession s, string recipient, DateTimeOffset now, CancellationToken ct) =>
        (await s.Connection.QueryAsync<GrantRow>(s.Command(SelectGrantsInForceSql, new { recipient, now }, ct))).ToList();

    public static async Task<bool> UpdateGrantStatusAsync(DbSession s, Guid id, string from, string to, string? reason, DateTimeOffset now, CancellationToken ct) =>
        await s.Connection.ExecuteAsync(s.Command(UpdateGrantStatusSql, new { id, from, to, reason, now }, ct)) == 1;
}
