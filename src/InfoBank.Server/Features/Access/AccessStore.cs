using System.Buffers.Binary;
using Dapper;
using InfoBank.Core.Access;
using InfoBank.Server.Infrastructure.Db;

namespace InfoBank.Server.Features.Access;

public static class AccessKinds
{
    public const string Records = "records";
    public const string Aggregate = "aggregate";
    public const string AggregateRelease = "aggregate-release";
}

public static class AccessOutcomes
{
    public const string Served = "served";
    public const string Throttled = "throttled";
    public const string GrantInactive = "grant-inactive";
    public const string Refused = "refused";
}

/// <summary>
/// One row of the access log: an attempt on a grant, served or refused. <see cref="DataItems"/> and
/// <see cref="Reasons"/> are JSON arrays of strings; <see cref="Approval"/> names the committee
/// decision behind the grant.
/// </summary>
public sealed record AccessLogEntry(
    Guid Id,
    DateTimeOffset At,
    Guid GrantId,
    string Recipient,
    string Kind,
    string Outcome,
    Guid? FetchId,
    bool FetchStart,
    int Items,
    int Residents,
    string DataItems,
    string Purpose,
    string Approval,
    string PolicyHash,
    string Reasons,
    long? AuditSequence);

/// <summary>A resident's data in one access: how many records, and the points it earned them.</summary>
public sealed record Provision(Guid ResidentId, int Records, int Points);

/// <summary>One line of a resident's passbook, joined with the access it belongs to.</summary>
public sealed record PassbookRow(Guid AccessId, DateTimeOffset At, Guid GrantId, string Recipient, string Kind, string DataItems, string Purpose, string Approval, int Records, int Points);

public sealed record AlertRow(string AlertKey, Guid GrantId, string Kind, DateTimeOffset DetectedAt, string Message);

/// <summary>The access log, passbook lines, frozen aggregate releases and alerts.</summary>
public sealed class AccessStore(DbConnectionFactory db)
{
    private const string InsertLog = """
        INSERT INTO access_log (id, at, grant_id, recipient, kind, outcome, fetch_id, fetch_start, items, residents,
                                data_items, purpose, approval, policy_hash, reasons, audit_sequence)
        VALUES (@Id, @At, @GrantId, @Recipient, @Kind, @Outcome, @FetchId, @FetchStart, @Items, @Residents,
                @DataItems, @Purpose, @Approval, @PolicyHash, @Reasons, @AuditSequence)
        """;

    private const string InsertProvision = """
        INSERT INTO access_provisions (access_id, resident_id, at, records, points)
        VALUES (@accessId, @ResidentId, @at, @Records, @Points)
        """;

    private const string SelectColumns = """
        SELECT id, at, grant_id, recipient, kind, outcome,
               fetch_id, fetch_start, items, residents,
               data_items, purpose, approval, policy_hash,
               reasons, audit_sequence
        FROM access_log
        """;

    private const string SelectEvents = """
        SELECT at, outcome, fetch_start, items
        FROM access_log WHERE grant_id = @grantId AND at > @since AND outcome <> 'refused'
        """;

    private const string SelectActiveGrants = "SELECT DISTINCT grant_id FROM access_log WHERE at > @since";


    // Candidates only: enrolled (so not erased) residents with a consent in the ConsentGiven state to
    // this grant's offer. The consent decision function still decides each of them, on every page.
    private const string SelectConsentingResidents = """
        SELECT DISTINCT c.subject_id FROM consents c
        JOIN offers o ON o.offer_id = c.offer_id
        JOIN residents r ON r.account_id = c.subject_id
        WHERE o.grant_id = @grantId AND c.state = 'ConsentGiven' AND r.status = 'enrolled' AND (@after IS NULL OR c.subject_id > @after)
        ORDER BY c.subject_id
        """;

    private const string SelectPassbook = """
        SELECT p.access_id, p.at, l.grant_id, l.recipient, l.kind,
               l.data_items, l.purpose, l.approval, p.records, p.points
        FROM access_provisions p JOIN access_log l ON l.id = p.access_id
        WHERE p.resident_id = @residentId
          AND (@before IS NULL OR p.at < @before OR (p.at = @before AND @beforeId IS NOT NULL AND p.access_id < @beforeId))
        ORDER BY p.at DESC, p.access_id DESC
        """;

    private const string SelectPointsTotal = "SELECT COALESCE(SUM(points), 0) FROM access_provisions WHERE resident_id = @residentId";

    private const string SelectReleased = "SELECT bucket FROM access_aggregate_releases WHERE grant_id = @grantId";

    private const string InsertCell = """
        INSERT INTO access_aggregate_cells (grant_id, bucket, category, cell_key, suppressed, residents, records, summaries)
        VALUES (@grantId, @Bucket, @Category, @CellKey, @Suppressed, @Residents, @Records, @Summaries)
        """;

    private const string SelectCells = """
        SELECT bucket, cell_key, suppressed, residents, records, summaries
        FROM access_aggregate_cells WHERE grant_id = @grantId AND category = @category
        """;

    private const string SelectAlerts = """
        SELECT alert_key, grant_id, kind, detected_at, message
        FROM access_alerts WHERE (@grantId IS NULL OR grant_id = @grantId) AND (@from IS NULL OR detected_at >= @from)
          AND (@afterAt IS NULL OR detected_at < @afterAt OR (detected_at = @afterAt AND alert_key < @afterKey))
        ORDER BY detected_at DESC, alert_key DESC
        """;

    private static readonly string[] GateColumns = ["grant_id", "claims"];

    // The first statement of a gate transaction: it takes the grant's row lock (on SQLite, the
    // database write lock) so that concurrent starts on any node queue here and each one sees what
    // the ones before it recorded.
    private const string LockGate = "UPDATE access_grant_gates SET claims = claims + 1 WHERE grant_id = @grantId";

    private const string SelectStarts = """
        SELECT started_at FROM access_fetches WHERE grant_id = @grantId AND kind = @kind AND started_at > @since
        """;

    private const string InsertFetch = """
        INSERT INTO access_fetches (fetch_id, grant_id, kind, started_at, served) VALUES (@fetchId, @grantId, @kind, @now, 0)
        """;

    // Touching the fetch's own row locks it the same way, so two pages of one fetch reserve in turn.
    private const string LockFetch = "UPDATE access_fetches SET served = served WHERE fetch_id = @fetchId AND grant_id = @grantId";

    private const string SelectFetchServed = "SELECT served FROM access_fetches WHERE fetch_id = @fetchId";

    private const string AddServed = "UPDATE access_fetches SET served = served + @count WHERE fetch_id = @fetchId";

    private static readonly string[] ReleaseColumns = ["grant_id", "bucket", "released_at"];
    private static readonly string[] AlertColumns = ["alert_key", "grant_id", "kind", "detected_at", "message"];

    public DbConnectionFactory Db => db;

    /// <summary>
    /// Erasure: deletes the resident's passbook lines. The provision record itself stays: the access
    /// log row (recipient, purpose, items, how many residents) and the access's audit entry, which
    /// names the resident only by the audit pseudonym the same erasure destroys.
    /// </summary>
    public static Task DeleteProvisionsAsync(DbSession s, Guid residentId) =>
        s.ExecuteAsync("DELETE FROM access_provisions WHERE resident_id = @residentId", new { residentId });

    /// <summary>Stores an access and its passbook lines in the caller's transaction (the one its audit entry commits in).</summary>
    public static async Task RecordAsync(DbSession s, AccessLogEntry entry, IReadOnlyList<Provision> provisions)
    {
        await s.ExecuteAsync(InsertLog, entry);
        if (provisions.Count > 0)
        {
            await s.ExecuteAsync(InsertProvision, provisions.Select(p => new { accessId = entry.Id, p.ResidentId, at = entry.At, p.Records, p.Points }));
        }
    }

    /// <summary>
    /// Checks the grant's fetch frequency and, when it allows, records the start of fetch
    /// <paramref name="fetchId"/>, as one step under the grant's lock: of any number of concurrent
    /// starts (on any node) only as many as the policy allows succeed.
    /// </summary>
    public async Task<FetchVerdict> TryStartFetchAsync(Guid grantId, string kind, Guid fetchId, FetchPolicy policy, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(db.Dialect.InsertIgnoringDuplicates("access_grant_gates", GateColumns, ["grant_id"]),
            new { grant_id = grantId, claims = 0 }, cancellationToken: cancellationToken));
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(LockGate, new { grantId }, transaction, cancellationToken: cancellationToken));
        var since = policy.Period is { } period ? now - period : DateTimeOffset.UnixEpoch;
        var starts = await connection.QueryAsync<DateTimeOffset>(new CommandDefinition(SelectStarts, new { grantId, kind, since }, transaction, cancellationToken: cancellationToken));
        // A concurrent request that read the clock a moment after ours may have recorded its start
        // first: it counts as started now, not as a start in the future.
        var verdict = FetchLimiter.CanStart(policy, starts.Select(s => s > now ? now : s), now);
        if (verdict.Allowed)
        {
            await connection.ExecuteAsync(new CommandDefinition(InsertFetch, new { fetchId, grantId, kind, now }, transaction, cancellationToken: cancellationToken));
        }
        await transaction.CommitAsync(cancellationToken);
        return verdict;
    }

    /// <summary>The frequency verdict for a new fetch now, without starting one.</summary>
    public async Task<FetchVerdict> CanStartFetchAsync(Guid grantId, string kind, FetchPolicy policy, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var since = policy.Period is { } period ? now - period : DateTimeOffset.UnixEpoch;
        var starts = await connection.QueryAsync<DateTimeOffset>(new CommandDefinition(SelectStarts, new { grantId, kind, since }, cancellationToken: cancellationToken));
        return FetchLimiter.CanStart(policy, starts.Select(s => s > now ? now : s), now);
    }

    /// <summary>
    /// Reserves up to <paramref name="pageSize"/> records of the fetch's approved volume for one page,
    /// under the fetch's lock: concurrent pages of one fetch (a replayed cursor) can never serve more
    /// than the volume together. Returns what the fetch had served before, and the page's budget
    /// (0: the volume is used up); null when the fetch is unknown. Whatever the page does not use
    /// goes back with <see cref="ReturnUnusedAsync"/>.
    /// </summary>
    public async Task<(int Served, int Budget)?> ReservePageAsync(Guid grantId, Guid fetchId, FetchPolicy policy, int pageSize, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await connection.ExecuteAsync(new CommandDefinition(LockFetch, new { fetchId, grantId }, transaction, cancellationToken: cancellationToken)) == 0)
        {
            await transaction.RollbackAsync(cancellationToken);
            return null;
        }
        var served = await connection.ExecuteScalarAsync<int>(new CommandDefinition(SelectFetchServed, new { fetchId }, transaction, cancellationToken: cancellationToken));
        var budget = FetchLimiter.PageBudget(policy, Math.Max(0, served), pageSize);
        if (budget > 0)
        {
            await connection.ExecuteAsync(new CommandDefinition(AddServed, new { fetchId, count = budget }, transaction, cancellationToken: cancellationToken));
        }
        await transaction.CommitAsync(cancellationToken);
        return (served, budget);
    }

    /// <summary>Gives back the part of a page's reservation it did not serve.</summary>
    public async Task ReturnUnusedAsync(Guid fetchId, int unused, CancellationToken cancellationToken)
    {
        if (unused <= 0)
        {
            return;
        }
        await using var connection = await db.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(AddServed, new { fetchId, count = -unused }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<AccessEvent>> EventsAsync(Guid grantId, DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<EventRow>(new CommandDefinition(SelectEvents, new { grantId, since }, cancellationToken: cancellationToken));
        return [.. rows.Select(r => new AccessEvent(r.At, r.Outcome switch
        {
            AccessOutcomes.Throttled => AccessOutcome.Throttled,
            AccessOutcomes.GrantInactive => AccessOutcome.GrantInactive,
            _ => AccessOutcome.Served,
        }, r.FetchStart, r.Items))];
    }

    public async Task<IReadOnlyList<Guid>> GrantsAccessedSinceAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return [.. await connection.QueryAsync<Guid>(new CommandDefinition(SelectActiveGrants, new { since }, cancellationToken: cancellationToken))];
    }

    /// <summary>
    /// Which of <paramref name="residents"/> (one page's) already earned points in this fetch: points
    /// accrue once per fetch, not per page. Only this page's residents are looked up (through their
    /// passbook index), so a long fetch does not re-read its whole log on every page.
    /// </summary>
    public async Task<IReadOnlySet<Guid>> RewardedInFetchAsync(Guid fetchId, IReadOnlyCollection<Guid> residents, CancellationToken cancellationToken)
    {
        var rewarded = new HashSet<Guid>();
        if (residents.Count == 0)
        {
            return rewarded;
        }
        await using var connection = await db.OpenAsync(cancellationToken);
        foreach (var chunk in residents.Chunk(500))
        {
            var sql = $"""
                SELECT DISTINCT p.resident_id FROM access_provisions p JOIN access_log l ON l.id = p.access_id
                WHERE {db.Dialect.InList("p.resident_id", "residents")} AND l.fetch_id = @fetchId AND p.points > 0
                """;
            rewarded.UnionWith(await connection.QueryAsync<Guid>(new CommandDefinition(sql, new { fetchId, residents = chunk }, cancellationToken: cancellationToken)));
        }
        return rewarded;
    }

    /// <summary>Residents, after <paramref name="after"/> in id order, who hold an active consent to the grant's offer.</summary>
    public async Task<IReadOnlyList<Guid>> ConsentingResidentsAsync(Guid grantId, Guid? after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return [.. await connection.QueryAsync<Guid>(new CommandDefinition(SelectConsentingResidents + db.Dialect.Limit("limit"),
            new { grantId, after, limit }, cancellationToken: cancellationToken))];
    }

    /// <summary>
    /// The resident's lines, newest first, from just below (<paramref name="before"/>, <paramref name="beforeId"/>)
    /// in (time, id) order: one release writes several lines at the same time, so time alone would skip some.
    /// </summary>
    public async Task<IReadOnlyList<PassbookRow>> PassbookAsync(Guid residentId, DateTimeOffset? before, Guid? beforeId, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<PassbookData>(new CommandDefinition(SelectPassbook + db.Dialect.Limit("limit"),
            new { residentId, before, beforeId, limit }, cancellationToken: cancellationToken));
        return [.. rows.Select(r => new PassbookRow(r.AccessId, r.At, r.GrantId, r.Recipient, r.Kind, r.DataItems, r.Purpose, r.Approval, r.Records, r.Points))];
    }

    public async Task<long> PointsTotalAsync(Guid residentId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(SelectPointsTotal, new { residentId }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// The committee's view of the log, newest first, optionally by grant, recipient and time
    /// (<paramref name="from"/> inclusive, <paramref name="to"/> exclusive); pages continue below
    /// <paramref name="after"/> in (time, id) order.
    /// </summary>
    public async Task<IReadOnlyList<AccessLogEntry>> LogAsync(
        Guid? grantId, string? recipient, DateTimeOffset? from, DateTimeOffset? to, AccessLogPosition? after, int limit, CancellationToken cancellationToken)
    {
        var sql = SelectColumns + """
             WHERE (@grantId IS NULL OR grant_id = @grantId) AND (@recipient IS NULL OR recipient = @recipient)
               AND (@from IS NULL OR at >= @from) AND (@to IS NULL OR at < @to)
               AND (@afterAt IS NULL OR at < @afterAt OR (at = @afterAt AND id < @afterId))
             ORDER BY at DESC, id DESC
            """ + db.Dialect.Limit("limit");
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<LogData>(new CommandDefinition(sql,
            new { grantId, recipient, from, to, afterAt = after?.At, afterId = after?.Id, limit }, cancellationToken: cancellationToken));
        return [.. rows.Select(r => new AccessLogEntry(r.Id, r.At, r.GrantId, r.Recipient, r.Kind, r.Outcome, r.FetchId, r.FetchStart, r.Items, r.Residents,
            r.DataItems, r.Purpose, r.Approval, r.PolicyHash, r.Reasons, r.AuditSequence))];
    }

    public async Task SaveAlertsAsync(IReadOnlyList<AccessAlert> alerts, CancellationToken cancellationToken)
    {
        if (alerts.Count == 0)
        {
            return;
        }
        await using var connection = await db.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(db.Dialect.InsertIgnoringDuplicates("access_alerts", AlertColumns, ["alert_key"]),
            alerts.Select(a => new { alert_key = a.Key, grant_id = a.GrantId, kind = a.Kind.ToString(), detected_at = a.DetectedAt, message = a.Message }),
            cancellationToken: cancellationToken));
    }

    /// <summary>Alerts, newest first, optionally by grant and from a time; pages continue below <paramref name="after"/> in (time, key) order.</summary>
    public async Task<IReadOnlyList<AlertRow>> AlertsAsync(Guid? grantId, DateTimeOffset? from, AlertPosition? after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<AlertData>(new CommandDefinition(SelectAlerts + db.Dialect.Limit("limit"),
            new { grantId, from, afterAt = after?.DetectedAt, afterKey = after?.Key, limit }, cancellationToken: cancellationToken));
        return [.. rows.Select(r => new AlertRow(r.AlertKey, r.GrantId, r.Kind, r.DetectedAt, r.Message))];
    }

    public async Task<IReadOnlySet<string>> ReleasedBucketsAsync(Guid grantId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return (await connection.QueryAsync<string>(new CommandDefinition(SelectReleased, new { grantId }, cancellationToken: cancellationToken))).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// Freezes a bucket's cells, for every approved category at once. Returns false, storing nothing,
    /// when the bucket was already released (by a concurrent request): a bucket is released exactly once.
    /// </summary>
    public static async Task<bool> SaveReleaseAsync(DbSession s, Guid grantId, string bucket, IReadOnlyList<(string Category, ReleasedCell Cell)> cells, DateTimeOffset at)
    {
        var claimed = await s.ExecuteAsync(
            s.Dialect.InsertIgnoringDuplicates("access_aggregate_releases", ReleaseColumns, ["grant_id", "bucket"]),
            new { grant_id = grantId, bucket, released_at = at });
        if (claimed == 0)
        {
            return false;
        }
        if (cells.Count > 0)
        {
            await s.ExecuteAsync(InsertCell, cells.Select(c => new
            {
                grantId,
                c.Cell.Bucket,
                c.Category,
                CellKey = CellKey(c.Cell.Key),
                c.Cell.Suppressed,
                c.Cell.Residents,
                c.Cell.Records,
                Summaries = c.Cell.Fields is null ? null : EncodeSummaries(c.Cell.Fields),
            }));
        }
        return true;
    }

    /// <summary>
    /// Rewrites frozen cells stored in the first format (each resident's values, for exact medians)
    /// as counts, sums and bins, the same figures the answers already use. Idempotent: cells
    /// already binned are left alone. Returns how many were rewritten.
    /// </summary>
    public Task<int> ReencodeRawCellsAsync(CancellationToken cancellationToken) =>
        db.InTransactionAsync(async s =>
        {
            // Only cells whose first four bytes are not the binned-format marker come back, so a start
            // after the rewrite reads nothing however many cells there are (SUBSTRING on bytes is the
            // same in all three databases).
            var marker = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(marker, BinnedFormat);
            var rows = await s.QueryAsync<RawCellRow>(
                "SELECT grant_id, bucket, category, cell_key, summaries FROM access_aggregate_cells WHERE summaries IS NOT NULL AND SUBSTRING(summaries, 1, 4) <> @marker",
                new { marker });
            var raw = rows.Where(r => IsRawFormat(r.Summaries)).ToList();
            foreach (var row in raw)
            {
                await s.ExecuteAsync(
                    "UPDATE access_aggregate_cells SET summaries = @summaries WHERE grant_id = @GrantId AND bucket = @Bucket AND category = @Category AND cell_key = @CellKey",
                    new { summaries = EncodeSummaries(DecodeSummaries(row.Summaries)), row.GrantId, row.Bucket, row.Category, row.CellKey });
            }
            return raw.Count;
        }, cancellationToken);

    public async Task<IReadOnlyList<ReleasedCell>> CellsAsync(Guid grantId, string category, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<CellRow>(new CommandDefinition(SelectCells, new { grantId, category }, cancellationToken: cancellationToken));
        return [.. rows.Select(r => new ReleasedCell(r.Bucket, SplitKey(r.CellKey), r.Suppressed, r.Residents, r.Records, r.Summaries is null ? null : DecodeSummaries(r.Summaries)))];
    }

    // Dimension values are short codes (ward names, age bands); the unit separator cannot occur in them.
    internal static string CellKey(string[] key) => string.Join('\u001f', key);

    internal static string[] SplitKey(string key) => key.Split('\u001f');

    // Marks the current format. The first format stored each cell's values themselves (for exact
    // medians); a count there is never negative, so its cells are told apart and read into bins.
    private const int BinnedFormat = -1;

    // BinnedFormat (int32) ‖ per field: count (int32) ‖ sum (float64) ‖ bins (int32) ‖ per bin: bin (int32) ‖ count (int32), little-endian.
    internal static byte[] EncodeSummaries(FieldSummary[] fields)
    {
        var buffer = new byte[4 + fields.Sum(f => 16 + (8 * f.Bins.Length))];
        BinaryPrimitives.WriteInt32LittleEndian(buffer, BinnedFormat);
        var at = 4;
        foreach (var field in fields)
        {
            BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(at), field.Count);
            BinaryPrimitives.WriteDoubleLittleEndian(buffer.AsSpan(at + 4), field.Sum);
            BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(at + 12), field.Bins.Length);
            at += 16;
            foreach (var bin in field.Bins)
            {
                BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(at), bin.Bin);
                BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(at + 4), bin.Count);
                at += 8;
            }
        }
        return buffer;
    }

    internal static FieldSummary[] DecodeSummaries(byte[] buffer)
    {
        if (IsRawFormat(buffer))
        {
            return DecodeRawSummaries(buffer);
        }
        var fields = new List<FieldSummary>();
        var at = 4;
        while (at < buffer.Length)
        {
            var count = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(at));
            var sum = BinaryPrimitives.ReadDoubleLittleEndian(buffer.AsSpan(at + 4));
            var bins = new ValueBin[BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(at + 12))];
            at += 16;
            for (var i = 0; i < bins.Length; i++, at += 8)
            {
                bins[i] = new ValueBin(BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(at)), BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(at + 4)));
            }
            fields.Add(new FieldSummary(count, sum, bins));
        }
        return [.. fields];
    }

    /// <summary>Whether a stored summary is in the first format, which holds residents' values (re-encoded by <see cref="AccessCellsCatchUp"/>).</summary>
    internal static bool IsRawFormat(byte[] buffer) => buffer.Length >= 4 && BinaryPrimitives.ReadInt32LittleEndian(buffer) != BinnedFormat;

    // The first format: per field, count (int32) ‖ sum (float64) ‖ count values (float64).
    private static FieldSummary[] DecodeRawSummaries(byte[] buffer)
    {
        var fields = new List<FieldSummary>();
        var at = 0;
        while (at < buffer.Length)
        {
            var count = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(at));
            at += 12;
            var values = new double[count];
            for (var i = 0; i < count; i++, at += 8)
            {
                values[i] = BinaryPrimitives.ReadDoubleLittleEndian(buffer.AsSpan(at));
            }
            fields.Add(FieldSummary.Of(values));
        }
        return [.. fields];
    }

    private sealed class LogData
    {
        public Guid Id { get; init; }

        public DateTimeOffset At { get; init; }

        public Guid GrantId { get; init; }

        public string Recipient { get; init; } = "";

        public string Kind { get; init; } = "";

        public string Outcome { get; init; } = "";

        public Guid? FetchId { get; init; }

        public bool FetchStart { get; init; }

        public int Items { get; init; }

        public int Residents { get; init; }

        public string DataItems { get; init; } = "[]";

        public string Purpose { get; init; } = "";

        public string Approval { get; init; } = "";

        public string PolicyHash { get; init; } = "";

        public string Reasons { get; init; } = "[]";

        public long? AuditSequence { get; init; }
    }

    private sealed class PassbookData
    {
        public Guid AccessId { get; init; }

        public DateTimeOffset At { get; init; }

        public Guid GrantId { get; init; }

        public string Recipient { get; init; } = "";

        public string Kind { get; init; } = "";

        public string DataItems { get; init; } = "[]";

        public string Purpose { get; init; } = "";

        public string Approval { get; init; } = "";

        public int Records { get; init; }

        public int Points { get; init; }
    }

    private sealed class AlertData
    {
        public string AlertKey { get; init; } = "";

        public Guid GrantId { get; init; }

        public string Kind { get; init; } = "";

        public DateTimeOffset DetectedAt { get; init; }

        public string Message { get; init; } = "";
    }

    private sealed class EventRow
    {
        public DateTimeOffset At { get; init; }

        public string Outcome { get; init; } = "";

        public bool FetchStart { get; init; }

        public int Items { get; init; }
    }

    private sealed class CellRow
    {
        public string Bucket { get; init; } = "";

        public string CellKey { get; init; } = "";

        public bool Suppressed { get; init; }

        public int Residents { get; init; }

        public int Records { get; init; }

        public byte[]? Summaries { get; init; }
    }

    private sealed class RawCellRow
    {
        public Guid GrantId { get; init; }

        public string Bucket { get; init; } = "";

        public string Category { get; init; } = "";

        public string CellKey { get; init; } = "";

        public byte[] Summaries { get; init; } = [];
    }
}
