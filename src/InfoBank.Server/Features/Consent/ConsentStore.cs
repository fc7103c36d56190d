using System.Data.Common;
using System.Text.Json;
using Dapper;
using InfoBank.Core.Consent;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Infrastructure.Web;

namespace InfoBank.Server.Features.Consent;

/// <summary>
/// The SQL of offers and the consent ledger. Every method takes the caller's session, so a command
/// reads the state and appends its event (and its audit entry) atomically. Nothing is cached:
/// decisions read the projection fresh each time (the partial indexes keep that cheap).
/// </summary>
public sealed class ConsentStore(DbConnectionFactory db)
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    private const string OfferColumns = """
        o.offer_id, o.grant_id, o.status, o.notice_version,
        o.notice_hash, n.notice_json
        """;

    private const string SelectOffer = $"""
        SELECT {OfferColumns}
        FROM offers o JOIN offer_notices n ON n.offer_id = o.offer_id AND n.notice_version = o.notice_version
        """;

    private const string ConsentColumns = """
        c.consent_id, c.subject_id, c.offer_id, c.notice_version,
        c.state, c.items, c.explicit_items, c.given_at,
        c.expires_at, c.ended_at, c.last_sequence
        """;

    private const string EventColumns = """
        sequence, consent_id, subject_id, offer_id, event_type,
        notice_version, occurred_at, actor, items,
        explicit_items, expires_at
        """;

    private const string InsertOfferSql = """
        INSERT INTO offers (offer_id, grant_id, status, notice_version, notice_hash, recipient_client_id, purpose_code, valid_until, created_at, updated_at)
        VALUES (@OfferId, @GrantId, @Status, @NoticeVersion, @NoticeHash, @RecipientClientId, @PurposeCode, @ValidUntil, @Now, @Now)
        """;

    private const string UpdateOfferNoticeSql = """
        UPDATE offers SET notice_version = @NoticeVersion, notice_hash = @NoticeHash, recipient_client_id = @RecipientClientId,
            purpose_code = @PurposeCode, valid_until = @ValidUntil, updated_at = @Now
        WHERE offer_id = @OfferId AND notice_version = @PreviousVersion
        """;

    private const string UpdateOfferStatusSql = """
        UPDATE offers SET status = @Status, updated_at = @Now WHERE offer_id = @OfferId AND status = @PreviousStatus
        """;

    // Re-checks the offer under a row lock as part of a consent command, so a concurrent suspend,
    // revoke or new notice version either waits for the command or makes it fail (no consent slips
    // in to an offer that has just changed).
    private const string TouchOpenOfferSql = """
        UPDATE offers SET updated_at = updated_at WHERE offer_id = @OfferId AND status = 'Active' AND notice_version = @NoticeVersion
        """;

    private const string InsertNoticeSql = """
        INSERT INTO offer_notices (offer_id, notice_version, notice_hash, notice_json, published_at)
        VALUES (@OfferId, @NoticeVersion, @NoticeHash, @NoticeJson, @Now)
        """;

    private const string InsertEventColumns = """
        INSERT INTO consent_events (consent_id, subject_id, offer_id, event_type, notice_version, occurred_at, actor, items, explicit_items, expires_at)
        """;

    private const string InsertEventValues = """
        VALUES (@ConsentId, @SubjectId, @OfferId, @EventType, @NoticeVersion, @OccurredAt, @Actor, @Items, @ExplicitItems, @ExpiresAt)
        """;

    private const string InsertConsentSql = """
        INSERT INTO consents (consent_id, subject_id, offer_id, notice_version, state, items, explicit_items, given_at, expires_at, ended_at, last_sequence)
        VALUES (@ConsentId, @SubjectId, @OfferId, @NoticeVersion, @State, @Items, @ExplicitItems, @GivenAt, @ExpiresAt, NULL, @LastSequence)
        """;

    // Only an active consent changes state; zero rows means another command ended it first.
    private const string EndConsentSql = """
        UPDATE consents SET state = @State, ended_at = @EndedAt, last_sequence = @LastSequence
        WHERE consent_id = @ConsentId AND state = 'ConsentGiven'
        """;

    public DbConnectionFactory Db => db;

    // ---- offers ----

    public async Task<OfferTerms?> FindOfferAsync(DbSession s, Guid offerId) =>
        ToTerms(await s.QuerySingleOrDefaultAsync<OfferRow>($"{SelectOffer} WHERE o.offer_id = @offerId", new { offerId }));

    public async Task<OfferTerms?> FindOfferByGrantAsync(DbSession s, Guid grantId) =>
        ToTerms(await s.QuerySingleOrDefaultAsync<OfferRow>($"{SelectOffer} WHERE o.grant_id = @grantId", new { grantId }));

    /// <summary>Offers residents can consent to now: active and not past their window.</summary>
    public async Task<IReadOnlyList<OfferTerms>> ListOpenOffersAsync(DbSession s, DateTimeOffset now)
    {
        var rows = await s.QueryAsync<OfferRow>(
            $"{SelectOffer} WHERE o.status = 'Active' AND o.valid_until > @now ORDER BY o.created_at, o.offer_id", new { now });
        return rows.Select(r => ToTerms(r)!).ToList();
    }

    /// <summary>
    /// One page of the open offers, oldest first in (created at, offer id) order, after
    /// <paramref name="after"/>; <paramref name="limit"/> rows at most, and where the next page starts.
    /// </summary>
    public async Task<(IReadOnlyList<OfferTerms> Page, OfferPosition? Next)> ListOpenOffersAsync(DbSession s, DateTimeOffset now, OfferPosition? after, int limit)
    {
        var rows = (await s.QueryAsync<OfferRow>(
            $"""
            SELECT {OfferColumns}, o.created_at
            FROM offers o JOIN offer_notices n ON n.offer_id = o.offer_id AND n.notice_version = o.notice_version
            WHERE o.status = 'Active' AND o.valid_until > @now
              AND (@afterAt IS NULL OR o.created_at > @afterAt OR (o.created_at = @afterAt AND o.offer_id > @afterId))
            ORDER BY o.created_at, o.offer_id{s.Dialect.Limit("take")}
            """, new { now, afterAt = after?.CreatedAt, afterId = after?.OfferId, take = limit + 1 })).ToList();
        var (page, more) = Paging.Split(rows, limit);
        return (page.Select(r => ToTerms(r)!).ToList(), more ? new OfferPosition(page[^1].CreatedAt, page[^1].OfferId) : null);
    }

    public async Task<Notice?> FindNoticeAsync(DbSession s, Guid offerId, int version)
    {
        var json = await s.QuerySingleOrDefaultAsync<string>(
            "SELECT notice_json FROM offer_notices WHERE offer_id = @offerId AND notice_version = @version", new { offerId, version });
        return json is null ? null : JsonSerializer.Deserialize<Notice>(json, Json);
    }

    public async Task<IReadOnlyList<NoticeVersionRow>> ListNoticeVersionsAsync(DbSession s, Guid offerId) =>
        (await s.QueryAsync<NoticeVersionRow>(
            "SELECT notice_version AS Version, notice_hash AS Hash, published_at FROM offer_notices WHERE offer_id = @offerId ORDER BY notice_version",
            new { offerId })).ToList();

    public async Task InsertOfferAsync(DbSession s, OfferTerms offer, DateTimeOffset now)
    {
        await s.ExecuteAsync(InsertOfferSql, new
        {
            offer.OfferId,
            offer.GrantId,
            Status = offer.Status.ToString(),
            offer.NoticeVersion,
            offer.NoticeHash,
            RecipientClientId = offer.Notice.Recipient.ClientId,
            offer.Notice.PurposeCode,
            offer.Notice.ValidUntil,
            Now = now,
        });
        await InsertNoticeAsync(s, offer, now);
    }

    /// <summary>Moves the offer to a new notice version; false if another publish got there first.</summary>
    public async Task<bool> UpdateOfferNoticeAsync(DbSession s, OfferTerms offer, int previousVersion, DateTimeOffset now)
    {
        var rows = await s.ExecuteAsync(UpdateOfferNoticeSql, new
        {
            offer.OfferId,
            offer.NoticeVersion,
            offer.NoticeHash,
            RecipientClientId = offer.Notice.Recipient.ClientId,
            offer.Notice.PurposeCode,
            offer.Notice.ValidUntil,
            Now = now,
            PreviousVersion = previousVersion,
        });
        if (rows == 1)
        {
            await InsertNoticeAsync(s, offer, now);
        }
        return rows == 1;
    }

    public async Task<bool> UpdateOfferStatusAsync(DbSession s, Guid offerId, OfferStatus previous, OfferStatus next, DateTimeOffset now) =>
        await s.ExecuteAsync(UpdateOfferStatusSql,
            new { OfferId = offerId, Status = next.ToString(), PreviousStatus = previous.ToString(), Now = now }) == 1;

    /// <summary>Locks the offer row and confirms it is still active at <paramref name="noticeVersion"/>.</summary>
    public async Task<bool> LockOpenOfferAsync(DbSession s, Guid offerId, int noticeVersion) =>
        await s.ExecuteAsync(TouchOpenOfferSql, new { OfferId = offerId, NoticeVersion = noticeVersion }) == 1;

    private static Task InsertNoticeAsync(DbSession s, OfferTerms offer, DateTimeOffset now) =>
        s.ExecuteAsync(InsertNoticeSql, new
        {
            offer.OfferId,
            offer.NoticeVersion,
            offer.NoticeHash,
            NoticeJson = JsonSerializer.Serialize(offer.Notice, Json),
            Now = now,
        });

    // ---- consents (projection) ----

    public async Task<ConsentRecord?> FindConsentAsync(DbSession s, Guid consentId) =>
        ToRecord(await s.QuerySingleOrDefaultAsync<ConsentRow>(
            $"SELECT {ConsentColumns} FROM consents c WHERE c.consent_id = @consentId", new { consentId }));

    public async Task<ConsentRecord?> FindActiveConsentAsync(DbSession s, Guid subjectId, Guid offerId) =>
        ToRecord(await s.QuerySingleOrDefaultAsync<ConsentRow>(
            $"SELECT {ConsentColumns} FROM consents c WHERE c.subject_id = @subjectId AND c.offer_id = @offerId AND c.state = 'ConsentGiven'",
            new { subjectId, offerId }));

    public async Task<IReadOnlyList<ConsentRecord>> ListConsentsAsync(DbSession s, Guid subjectId) =>
        (await s.QueryAsync<ConsentRow>(
            $"SELECT {ConsentColumns} FROM consents c WHERE c.subject_id = @subjectId ORDER BY c.given_at DESC, c.consent_id", new { subjectId }))
        .Select(r => ToRecord(r)!).ToList();

    /// <summary>
    /// One page of the resident's consents, newest first, after (<paramref name="after"/>) in
    /// (given at, consent id) descending order; <paramref name="limit"/> rows at most.
    /// </summary>
    public async Task<IReadOnlyList<ConsentRecord>> ListConsentsAsync(DbSession s, Guid subjectId, ConsentPosition? after, int limit) =>
        (await s.QueryAsync<ConsentRow>(
            $"""
            SELECT {ConsentColumns} FROM consents c WHERE c.subject_id = @subjectId
              AND (@afterAt IS NULL OR c.given_at < @afterAt OR (c.given_at = @afterAt AND c.consent_id < @afterId))
            ORDER BY c.given_at DESC, c.consent_id DESC{s.Dialect.Limit("limit")}
            """, new { subjectId, afterAt = after?.GivenAt, afterId = after?.ConsentId, limit }))
        .Select(r => ToRecord(r)!).ToList();

    /// <summary>The resident's active consents only (the erasure path withdraws them).</summary>
    public async Task<IReadOnlyList<ConsentRecord>> ListActiveConsentsAsync(DbSession s, Guid subjectId) =>
        (await s.QueryAsync<ConsentRow>(
            $"SELECT {ConsentColumns} FROM consents c WHERE c.subject_id = @subjectId AND c.state = 'ConsentGiven' ORDER BY c.consent_id", new { subjectId }))
        .Select(r => ToRecord(r)!).ToList();

    /// <summary>
    /// Erasure: moves every event and consent of <paramref name="subjectId"/> to <paramref name="erasedSubject"/>
    /// (random, held nowhere else) and their own actions to <see cref="ErasedActor"/>, so the ledger keeps
    /// what was consented and provided but no longer names the person. The only UPDATE the ledger's
    /// triggers allow on consent_events.
    /// </summary>
    public static async Task PseudonymiseSubjectAsync(DbSession s, Guid subjectId, Guid erasedSubject)
    {
        await s.ExecuteAsync(
            "UPDATE consent_events SET subject_id = @erasedSubject, actor = CASE WHEN actor = @actor THEN @erasedActor ELSE actor END WHERE subject_id = @subjectId",
            new { subjectId, erasedSubject, actor = ConsentCommands.Actor(subjectId), erasedActor = ErasedActor });
        await s.ExecuteAsync("UPDATE consents SET subject_id = @erasedSubject WHERE subject_id = @subjectId", new { subjectId, erasedSubject });
    }

    /// <summary>The actor of an erased resident's own consent events.</summary>
    public const string ErasedActor = "resident:erased";

    public async Task<IReadOnlyList<ConsentRecord>> ListActiveForOfferAsync(DbSession s, Guid offerId) =>
        (await s.QueryAsync<ConsentRow>(
            $"SELECT {ConsentColumns} FROM consents c WHERE c.offer_id = @offerId AND c.state = 'ConsentGiven' ORDER BY c.consent_id",
            new { offerId }))
        .Select(r => ToRecord(r)!).ToList();

    public async Task<IReadOnlyList<ConsentRecord>> ListDueForExpiryAsync(DbSession s, DateTimeOffset now, int limit) =>
        (await s.QueryAsync<ConsentRow>(
            $"SELECT {ConsentColumns} FROM consents c WHERE c.state = 'ConsentGiven' AND c.expires_at <= @now ORDER BY c.expires_at, c.consent_id{db.Dialect.Limit("limit")}",
            new { now, limit }))
        .Select(r => ToRecord(r)!).ToList();

    // A consent in its given state joined with its offer's current terms: what decisions read.
    private const string SnapshotSelect = $"""
        SELECT {ConsentColumns}, o.grant_id AS OfferGrantId, o.status AS OfferStatus, o.notice_version AS OfferNoticeVersion,
            o.notice_hash AS OfferNoticeHash, n.notice_json AS OfferNoticeJson
        FROM consents c
        JOIN offers o ON o.offer_id = c.offer_id
        JOIN offer_notices n ON n.offer_id = o.offer_id AND n.notice_version = o.notice_version
        WHERE c.state = 'ConsentGiven' AND o.recipient_client_id = @recipientClientId AND o.purpose_code = @purposeCode
        """;

    /// <summary>
    /// What the decision function needs for one resident and one recipient and purpose: their
    /// consents to that recipient's offers for that purpose, with each offer's current terms.
    /// </summary>
    public async Task<IReadOnlyList<ConsentSnapshotEntry>> SnapshotAsync(DbSession s, Guid subjectId, string recipientClientId, string purposeCode) =>
        ToSnapshot(await s.QueryAsync<SnapshotRow>(
            SnapshotSelect + " AND c.subject_id = @subjectId",
            new { subjectId, recipientClientId, purposeCode })).ToList();

    /// <summary>
    /// <see cref="SnapshotAsync"/> for many residents in one query: the active-state consents to this
    /// recipient's offers for this purpose (of one grant, when given) of every resident whose id lies
    /// in [<paramref name="fromSubject"/>, <paramref name="toSubject"/>] in the database's own order
    /// (null bounds are open), grouped by resident. Added for Access's per-page and per-release decisions.
    /// </summary>
    public async Task<ILookup<Guid, ConsentSnapshotEntry>> SnapshotRangeAsync(DbSession s, string recipientClientId, string purposeCode, Guid? grantId, Guid? fromSubject, Guid? toSubject) =>
        ToSnapshot(await s.QueryAsync<SnapshotRow>(
            SnapshotSelect + """

              AND (@grantId IS NULL OR o.grant_id = @grantId)
              AND (@fromSubject IS NULL OR c.subject_id >= @fromSubject) AND (@toSubject IS NULL OR c.subject_id <= @toSubject)
            """,
            new { recipientClientId, purposeCode, grantId, fromSubject, toSubject })).ToLookup(e => e.Consent.SubjectId);

    /// <summary>
    /// Every consent, in any state (given, withdrawn, expired, invalidated, revoked), to the offer of
    /// <paramref name="grantId"/> of every resident whose id lies in [<paramref name="fromSubject"/>,
    /// <paramref name="toSubject"/>] in the database's own order, each with the look-back of the notice
    /// version it was given under; grouped by resident. One query for a page's or a release's residents:
    /// what provision needs to keep each resident's data inside the periods they consented for.
    /// </summary>
    public async Task<ILookup<Guid, ConsentHistoryEntry>> HistoryRangeAsync(DbSession s, Guid grantId, Guid fromSubject, Guid toSubject)
    {
        var rows = await s.QueryAsync<HistoryRow>(
            $"""
            SELECT {ConsentColumns}, n.notice_json
            FROM consents c
            JOIN offers o ON o.offer_id = c.offer_id
            JOIN offer_notices n ON n.offer_id = c.offer_id AND n.notice_version = c.notice_version
            WHERE o.grant_id = @grantId AND c.subject_id >= @fromSubject AND c.subject_id <= @toSubject
            """, new { grantId, fromSubject, toSubject });
        // An offer has a few notice versions; each is parsed once.
        var lookbacks = new Dictionary<int, int>();
        return rows.Select(r =>
        {
            if (!lookbacks.TryGetValue(r.NoticeVersion, out var lookback))
            {
                lookbacks[r.NoticeVersion] = lookback = JsonSerializer.Deserialize<Notice>(r.NoticeJson, Json)!.EffectiveLookbackDays;
            }
            return new ConsentHistoryEntry(ToRecord(r)!, lookback);
        }).ToLookup(e => e.Consent.SubjectId);
    }

    // Offers repeat across consents (across residents in a range); each notice is parsed once.
    private static IEnumerable<ConsentSnapshotEntry> ToSnapshot(IEnumerable<SnapshotRow> rows)
    {
        var offers = new Dictionary<(Guid, int), OfferTerms>();
        foreach (var r in rows)
        {
            if (!offers.TryGetValue((r.OfferId, r.OfferNoticeVersion), out var terms))
            {
                terms = ToTerms(new OfferRow
                {
                    OfferId = r.OfferId,
                    GrantId = r.OfferGrantId,
                    Status = r.OfferStatus,
                    NoticeVersion = r.OfferNoticeVersion,
                    NoticeHash = r.OfferNoticeHash,
                    NoticeJson = r.OfferNoticeJson,
                })!;
                offers[(r.OfferId, r.OfferNoticeVersion)] = terms;
            }
            yield return new ConsentSnapshotEntry(ToRecord(r)!, terms);
        }
    }

    // ---- events ----

    /// <summary>
    /// Appends one event and updates the projection to <paramref name="next"/>, in the caller's
    /// transaction. Returns the event's ledger sequence. Throws <see cref="ConsentConflictException"/>
    /// when the projection changed underneath (another command ended the consent, or a concurrent
    /// give won the one active consent per resident and offer).
    /// </summary>
    public async Task<long> AppendAsync(DbSession s, ConsentEvent e, ConsentRecord next)
    {
        var insert = s.Dialect.InsertReturning(InsertEventColumns, InsertEventValues, "sequence");
        long sequence;
        try
        {
            sequence = await s.ExecuteScalarAsync<long>(insert, new
            {
                e.ConsentId,
                e.SubjectId,
                e.OfferId,
                EventType = e.Type.ToString(),
                e.NoticeVersion,
                OccurredAt = e.At,
                e.Actor,
                Items = JsonSerializer.Serialize(e.Items, Json),
                ExplicitItems = JsonSerializer.Serialize(e.ExplicitItems, Json),
                e.ExpiresAt,
            });

            if (e.Type == ConsentState.ConsentGiven)
            {
                await s.ExecuteAsync(InsertConsentSql, new
                {
                    next.ConsentId,
                    next.SubjectId,
                    next.OfferId,
                    next.NoticeVersion,
                    State = next.State.ToString(),
                    Items = JsonSerializer.Serialize(next.Items, Json),
                    ExplicitItems = JsonSerializer.Serialize(next.ExplicitItems, Json),
                    next.GivenAt,
                    next.ExpiresAt,
                    LastSequence = sequence,
                });
            }
            else
            {
                var rows = await s.ExecuteAsync(EndConsentSql, new
                {
                    next.ConsentId,
                    State = next.State.ToString(),
                    next.EndedAt,
                    LastSequence = sequence,
                });
                if (rows != 1)
                {
                    throw new ConsentConflictException($"Consent {e.ConsentId} changed while it was being updated; nothing was recorded.");
                }
            }
        }
        catch (DbException ex) when (s.Dialect.IsUniqueViolation(ex))
        {
            throw new ConsentConflictException($"There is already an active consent to offer {e.OfferId} for this resident; nothing was recorded.");
        }
        return sequence;
    }

    public async Task<IReadOnlyList<ConsentEvent>> ListEventsAsync(DbSession s, Guid consentId) =>
        (await s.QueryAsync<EventRow>($"SELECT {EventColumns} FROM consent_events WHERE consent_id = @consentId ORDER BY sequence", new { consentId }))
        .Select(ToEvent).ToList();

    /// <summary>The whole ledger in order, for rebuilding the projection (tests and operators).</summary>
    public async Task<IReadOnlyList<ConsentEvent>> ListAllEventsAsync(DbSession s) =>
        (await s.QueryAsync<EventRow>($"SELECT {EventColumns} FROM consent_events ORDER BY sequence")).Select(ToEvent).ToList();

    public async Task<IReadOnlyList<ConsentRecord>> ListAllConsentsAsync(DbSession s) =>
        (await s.QueryAsync<ConsentRow>($"SELECT {ConsentColumns} FROM consents c ORDER BY c.consent_id")).Select(r => ToRecord(r)!).ToList();

    // ---- audit links ----

    /// <summary>Records where an event's audit entry landed (receipts cite it), in the transaction that wrote both.</summary>
    public Task LinkAuditAsync(DbSession s, long eventSequence, long auditSequence) =>
        s.ExecuteAsync("INSERT INTO consent_event_audit (event_sequence, audit_sequence) VALUES (@eventSequence, @auditSequence)",
            new { eventSequence, auditSequence });

    public async Task<IReadOnlyDictionary<long, long>> AuditSequencesAsync(DbSession s, Guid consentId)
    {
        var rows = await s.QueryAsync<(long EventSequence, long AuditSequence)>(
            """
            SELECT a.event_sequence, a.audit_sequence
            FROM consent_event_audit a JOIN consent_events e ON e.sequence = a.event_sequence
            WHERE e.consent_id = @consentId
            """, new { consentId });
        return rows.ToDictionary(r => r.EventSequence, r => r.AuditSequence);
    }

    // ---- mapping ----

    private static OfferTerms? ToTerms(OfferRow? row) => row is null
        ? null
        : new OfferTerms(row.OfferId, row.GrantId, Enum.Parse<OfferStatus>(row.Status), row.NoticeVersion, row.NoticeHash,
            JsonSerializer.Deserialize<Notice>(row.NoticeJson, Json)!);

    private static ConsentRecord? ToRecord(ConsentRow? row) => row is null
        ? null
        : new ConsentRecord(row.ConsentId, row.SubjectId, row.OfferId, row.NoticeVersion, Items(row.Items), Items(row.ExplicitItems),
            Enum.Parse<ConsentState>(row.State), row.GivenAt, row.ExpiresAt, row.EndedAt, row.LastSequence);

    private static ConsentEvent ToEvent(EventRow row) =>
        new(row.ConsentId, row.SubjectId, row.OfferId, Enum.Parse<ConsentState>(row.EventType), row.OccurredAt, row.NoticeVersion,
            row.Actor, Items(row.Items), Items(row.ExplicitItems), row.ExpiresAt, row.Sequence);

    private static IReadOnlyList<string> Items(string json) => JsonSerializer.Deserialize<string[]>(json, Json) ?? [];

    // Dapper fills these by property name; SQLite hands back TEXT for ids and times, which the
    // registered type handlers convert.
    private sealed class OfferRow
    {
        public Guid OfferId { get; set; }
        public Guid GrantId { get; set; }
        public string Status { get; set; } = "";
        public int NoticeVersion { get; set; }
        public string NoticeHash { get; set; } = "";
        public string NoticeJson { get; set; } = "";
        public DateTimeOffset CreatedAt { get; set; }
    }

    private class ConsentRow
    {
        public Guid ConsentId { get; set; }
        public Guid SubjectId { get; set; }
        public Guid OfferId { get; set; }
        public int NoticeVersion { get; set; }
        public string State { get; set; } = "";
        public string Items { get; set; } = "[]";
        public string ExplicitItems { get; set; } = "[]";
        public DateTimeOffset GivenAt { get; set; }
        public DateTimeOffset ExpiresAt { get; set; }
        public DateTimeOffset? EndedAt { get; set; }
        public long LastSequence { get; set; }
    }

    private sealed class SnapshotRow : ConsentRow
    {
        public Guid OfferGrantId { get; set; }
        public string OfferStatus { get; set; } = "";
        public int OfferNoticeVersion { get; set; }
        public string OfferNoticeHash { get; set; } = "";
        public string OfferNoticeJson { get; set; } = "";
    }

    private sealed class HistoryRow : ConsentRow
    {
        public string NoticeJson { get; set; } = "";
    }

    private sealed class EventRow
    {
        public long Sequence { get; set; }
        public Guid ConsentId { get; set; }
        public Guid SubjectId { get; set; }
        public Guid OfferId { get; set; }
        public string EventType { get; set; } = "";
        public int NoticeVersion { get; set; }
        public DateTimeOffset OccurredAt { get; set; }
        public string Actor { get; set; } = "";
        public string Items { get; set; } = "[]";
        public string ExplicitItems { get; set; } = "[]";
        public DateTimeOffset? ExpiresAt { get; set; }
    }
}

/// <summary>One consent of a resident's history with an offer, and the look-back its notice version stated.</summary>
public sealed record ConsentHistoryEntry(ConsentRecord Consent, int LookbackDays);

/// <summary>Where a page of the open offers ends: the cursor of the offer list.</summary>
public sealed record OfferPosition(DateTimeOffset CreatedAt, Guid OfferId);

/// <summary>Where a page of a resident's consents ends: the cursor of the consent list.</summary>
public sealed record ConsentPosition(DateTimeOffset GivenAt, Guid ConsentId);

/// <summary>One published version of an offer's notice.</summary>
public sealed class NoticeVersionRow
{
    public int Version { get; set; }
    public string Hash { get; set; } = "";
    public DateTimeOffset PublishedAt { get; set; }
}

/// <summary>The ledger changed between reading and writing (a concurrent command won); nothing was recorded.</summary>
public sealed class ConsentConflictException(string message) : Exception(message);
