using System.Globalization;
using System.Text.Json;
using InfoBank.Core.Access;
using InfoBank.Core.Audit;
using InfoBank.Core.Consent;
using InfoBank.Core.Custody;
using InfoBank.Server.Features.Applications;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Infrastructure.Web;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Access;

/// <summary>One provided record: the resident's pseudonym for this recipient, and only the approved fields.</summary>
public sealed record ProvidedRecord(string Subject, string Category, DateTimeOffset ObservedAt, JsonElement Data);

/// <summary>
/// How long the bank keeps one approved category (<c>pia/inventory.yaml</c>): nothing observed before
/// <paramref name="KeptFrom"/> is held or provided any more.
/// </summary>
public sealed record CategoryRetention(string Category, int RetentionDays, DateTimeOffset KeptFrom);

/// <summary>
/// A page of a grant's records: the list convention's <c>items</c> (the records) and <c>next</c>
/// (the next page's URL, its cursor sealed by <see cref="PageCursors"/> since it carries the
/// fetch it continues), and the fetch's own counters. <paramref name="DataItems"/> names the
/// approved data items (<c>items</c> being the records).
/// </summary>
public sealed record RecordPage(
    IReadOnlyList<ProvidedRecord> Items,
    string? Next,
    Guid GrantId,
    Guid FetchId,
    string Purpose,
    IReadOnlyList<string> DataItems,
    int ServedInFetch,
    int? RemainingInFetch,
    IReadOnlyList<CategoryRetention> Retention) : Page<ProvidedRecord>(Items, Next);

public sealed record AggregateRequest(string? Category, IReadOnlyList<string>? GroupBy, IReadOnlyList<AggregateMeasure>? Measures, Dictionary<string, IReadOnlyList<string>>? Filters);

public sealed record AggregateResult(
    Guid GrantId,
    string Category,
    string Purpose,
    int K,
    string Period,
    IReadOnlyList<string> ReleasedBuckets,
    IReadOnlyList<AggregateGroup> Groups,
    int SuppressedGroups,
    int PartialGroups,
    string Suppression);

/// <summary>
/// Brokered access, the moment data leaves the bank. Every request reads the grant fresh, checks
/// its state and the approved frequency and volume, asks the consent decision function for every
/// resident on the page, reads and decrypts through custody only what was observed in the periods
/// that resident consented for (inside the approved data window), keeps only the approved fields,
/// and writes the audit entry and the access log (the residents' passbook lines) before anything is
/// returned. Refusals are logged and audited the same way.
/// </summary>
public sealed partial class GrantAccessService(
    ApplicationService applications,
    ConsentDecisions consent,
    RecordVault vault,
    AccessStore store,
    RecipientPseudonyms pseudonyms,
    PageCursors cursors,
    IAuditLog audit,
    AuditStore auditStore,
    DataInventory inventory,
    IOptions<AccessOptions> options,
    TimeProvider time,
    ILogger<GrantAccessService> logger)
{
    private readonly AccessOptions _options = options.Value;

    public async Task<Outcome<RecordPage>> ReadRecordsAsync(string recipient, Guid grantId, string? cursor, int? pageSize, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var (grant, refusal, decidedAfter) = await UsableGrantAsync(recipient, grantId, AccessKinds.Records, now, cancellationToken);
        if (refusal is not null)
        {
            return refusal;
        }
        var size = pageSize ?? _options.DefaultPageSize;
        if (size < 1 || size > _options.MaxPageSize)
        {
            return await RefuseAsync(grant!, recipient, AccessKinds.Records, now, Refusal.Of(ProblemTypes.InvalidParameter,
                new Dictionary<string, string[]> { ["limit"] = [$"limit must be between 1 and {_options.MaxPageSize}."] }, $"limit must be between 1 and {_options.MaxPageSize}."), cancellationToken);
        }
        var queryHash = PageCursors.QueryHash("records", grant!.Id.ToString("N"), grant.PolicyHash, string.Join(",", grant.Items));
        var (state, position, cursorRefusal) = await ReadCursorAsync(grant, recipient, cursor, queryHash, now, cancellationToken);
        if (cursorRefusal is not null)
        {
            return cursorRefusal;
        }
        var (fetch, fetchRefusal) = await ReserveFetchAsync(grant, recipient, state, position, size, now, cancellationToken);
        if (fetchRefusal is not null)
        {
            return fetchRefusal;
        }

        var (page, decisions) = await AssemblePageAsync(grant, recipient, fetch!, now, cancellationToken);
        var records = Provided(grant, recipient, page);
        var perResident = page.Rows.GroupBy(r => r.Resident).ToDictionary(g => g.Key, g => g.Count());
        var rewarded = state is null ? new HashSet<Guid>() : await store.RewardedInFetchAsync(fetch!.FetchId, perResident.Keys, cancellationToken);
        var provisions = perResident.Select(p => new Provision(p.Key, p.Value, rewarded.Contains(p.Key) ? 0 : grant.BenefitPoints)).ToList();

        // A reservation left unused by a crash stays counted: the volume errs on the safe side.
        await store.ReturnUnusedAsync(fetch!.FetchId, fetch.Budget - records.Count, cancellationToken);
        var servedNow = fetch.Served + records.Count;
        var more = page.MoreMayFollow && (grant.Fetch.MaxRecordsPerFetch is not { } max || servedNow < max);
        var next = more && page.Position is { } at
            ? cursors.Issue(new CursorState(grant.Id, recipient, fetch.FetchId, state?.FetchStartedAt ?? now, servedNow, at.Encode(), now, queryHash))
            : null;

        await RecordAccessAsync(new AccessRecord(grant, recipient, AccessKinds.Records, AccessOutcomes.Served, now, ServedReasons(decisions))
        {
            FetchId = fetch.FetchId,
            FetchStart = state is null,
            Items = records.Count,
            Provisions = provisions,
            Details = new { fetchId = fetch.FetchId, servedInFetch = servedNow, consents = decisions.Values.Where(d => d.Allowed).Select(d => d.ConsentId).ToList() },
            Residents = [.. perResident.Keys],
            DecidedAfter = decidedAfter,
        }, cancellationToken);

        // Next is the sealed cursor here; the endpoint turns it into the next page's URL and Link header.
        return new RecordPage(records, next, grant.Id, fetch.FetchId, grant.PurposeCode, grant.Items, servedNow,
            grant.Fetch.MaxRecordsPerFetch is { } cap ? Math.Max(0, cap - servedNow) : null, Retention(grant.Categories, now));
    }

    /// <summary>The fetch a page belongs to: how many records it has served and how many this page may add.</summary>
    private sealed record PageFetch(Guid FetchId, PagePosition? Position, int Served, int Budget);

    // No cursor is a first page; a cursor must be one this recipient was given for this very query.
    private async Task<(CursorState? State, PagePosition? Position, Refusal? Refusal)> ReadCursorAsync(
        GrantTerms grant, string recipient, string? cursor, byte[] queryHash, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (cursor is null)
        {
            return (null, null, null);
        }
        var read = cursors.Read(cursor, grant.Id, recipient, queryHash, now);
        if (!read.IsValid || PagePosition.Decode(read.State!.Position) is not { } decoded)
        {
            return (null, null, await RefuseAsync(grant, recipient, AccessKinds.Records, now, Refusal.Of(ProblemTypes.InvalidParameter,
                new Dictionary<string, string[]> { ["cursor"] = [read.Message] }, read.Message), $"cursor {read.Rejection}", cancellationToken));
        }
        return (read.State, decoded, null);
    }

    // A first page starts a fetch if the approved frequency allows; every page then reserves its share of the approved volume.
    private async Task<(PageFetch? Fetch, Refusal? Refusal)> ReserveFetchAsync(
        GrantTerms grant, string recipient, CursorState? state, PagePosition? position, int size, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var fetchId = state?.FetchId ?? Guid.NewGuid();
        if (state is null)
        {
            // Checked and recorded in one step under the grant's lock: of concurrent first pages
            // (on any node) only as many as the approved frequency allows get through.
            var verdict = await store.TryStartFetchAsync(grant.Id, AccessKinds.Records, fetchId, grant.Fetch, now, cancellationToken);
            if (!verdict.Allowed)
            {
                return (null, await ThrottleAsync(grant, recipient, AccessKinds.Records, now, verdict, cancellationToken));
            }
        }
        // What the fetch's row says it served, not what the cursor claims: replaying an older cursor
        // (even many times at once) cannot reset or overrun the volume.
        var reserved = await store.ReservePageAsync(grant.Id, fetchId, grant.Fetch, size, cancellationToken);
        if (reserved is null)
        {
            const string unknown = "The fetch this cursor continues is not known here; start a new fetch without a cursor.";
            return (null, await RefuseAsync(grant, recipient, AccessKinds.Records, now, Refusal.Of(ProblemTypes.InvalidParameter,
                new Dictionary<string, string[]> { ["cursor"] = [unknown] }, unknown), "cursor of an unknown fetch", cancellationToken));
        }
        var (served, budget) = reserved.Value;
        if (budget == 0)
        {
            // The fetch is complete; what follows is a new fetch, when the frequency allows one.
            var verdict = await store.CanStartFetchAsync(grant.Id, AccessKinds.Records, grant.Fetch, now, cancellationToken);
            var full = $"This fetch has served the approved {grant.Fetch.MaxRecordsPerFetch} records; start a new fetch without a cursor when the frequency allows. ";
            return (null, await ThrottleAsync(grant, recipient, AccessKinds.Records, now, verdict.Kind switch
            {
                FetchVerdictKind.Exhausted => verdict with { Reason = full + verdict.Reason },
                FetchVerdictKind.RetryLater => verdict with { Reason = full + verdict.Reason },
                _ => new FetchVerdict(FetchVerdictKind.RetryLater, TimeSpan.FromSeconds(1), full + "A new fetch may start now."),
            }, cancellationToken));
        }
        return (new PageFetch(fetchId, position, served, budget), null);
    }

    /// <summary>
    /// Reads up to the fetch's budget of records from where it stopped, each resident's only if the
    /// consent decision allows, and only what was observed in the periods they consented for (inside
    /// the approved data window). Returns the page and every examined resident's decision.
    /// </summary>
    private async Task<(AssembledPage<OpenedRecord> Page, Dictionary<Guid, ConsentDecision> Decisions)> AssemblePageAsync(
        GrantTerms grant, string recipient, PageFetch fetch, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (from, to) = grant.DataWindow(now);
        var categories = grant.Categories;
        var decisions = new Dictionary<Guid, ConsentDecision>();
        var request = new InfoBank.Core.Consent.DecisionRequest(recipient, Guid.Empty, grant.PurposeCode, categories, Granularity.RecordLevel, grant.Id);
        // Each batch of candidates is decided in one query as soon as it is read, before any of them
        // is examined; a resident cut off by the previous page is decided on their own.
        var batchDecisions = new Dictionary<Guid, ConsentDecision>();
        // With each decision, the periods the resident consented for (their whole history with the
        // offer, one query per batch): only data observed inside them is read and provided.
        var window = new TimeRange(from, to);
        var periods = new Dictionary<Guid, IReadOnlyList<ConsentedPeriod>>();
        var budget = fetch.Budget;
        var page = await RecordPager.AssembleAsync<OpenedRecord>(
            fetch.Position, budget, Math.Max(budget, budget * _options.ExamineFactor),
            async (after, limit, ct) =>
            {
                var batch = await store.ConsentingResidentsAsync(grant.Id, after, limit, ct);
                foreach (var (resident, decision) in await consent.DecideManyAsync(request, batch, ct))
                {
                    batchDecisions[resident] = decision;
                }
                foreach (var (resident, consented) in await consent.PeriodsManyAsync(grant.Id, batch, window, ct))
                {
                    periods[resident] = consented;
                }
                return batch;
            },
            async (resident, ct) =>
            {
                var decision = batchDecisions.Remove(resident, out var decided) ? decided : await consent.DecideAsync(request with { SubjectId = resident }, ct);
                decisions[resident] = decision;
                if (decision.Allowed && !periods.ContainsKey(resident))
                {
                    periods[resident] = (await consent.PeriodsManyAsync(grant.Id, [resident], window, ct))[resident];
                }
                return decision.Allowed;
            },
            (resident, within, limit, ct) => ReadResidentAsync(resident, categories, periods[resident], from, to, within, limit, ct),
            cancellationToken);
        return (page, decisions);
    }

    // Each record under the recipient's pseudonym for its resident, with only the approved fields.
    private List<ProvidedRecord> Provided(GrantTerms grant, string recipient, AssembledPage<OpenedRecord> page)
    {
        var subjects = new Dictionary<Guid, string>();
        return page.Rows.Select(r => new ProvidedRecord(
            subjects.TryGetValue(r.Resident, out var subject) ? subject : subjects[r.Resident] = pseudonyms.For(recipient, grant.Id, r.Resident),
            r.Row.Category, r.Row.ObservedAt, Projected(r.Row.Payload, grant.Fields[r.Row.Category]))).ToList();
    }

    private static List<string> ServedReasons(Dictionary<Guid, ConsentDecision> decisions) =>
        decisions.Values.Where(d => d.Allowed).SelectMany(d => d.Reasons).Take(50)
            .Append($"{decisions.Count(d => !d.Value.Allowed)} resident(s) on this page were not provided: no active consent covering the items.")
            .ToList();

    private List<CategoryRetention> Retention(IEnumerable<string> categories, DateTimeOffset now) =>
        categories.Select(c => inventory.Find(c)).OfType<InventoryCategory>()
            .Select(c => new CategoryRetention(c.Name, c.RetentionDays, c.KeptFrom(now))).ToList();

    public async Task<Outcome<AggregateResult>> AggregateAsync(string recipient, Guid grantId, AggregateRequest? request, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var (grant, refusal, decidedAfter) = await UsableGrantAsync(recipient, grantId, AccessKinds.Aggregate, now, cancellationToken);
        if (refusal is not null)
        {
            return refusal;
        }
        var offset = TimeSpan.FromHours(_options.BucketUtcOffsetHours);
        var category = request?.Category;
        var spec = category is null ? null : grant!.AggregateSpec(category, inventory, offset);
        if (spec is null)
        {
            var message = $"category must be one of the grant's approved categories ({string.Join(", ", grant!.Categories)})";
            // No category at all is a request that cannot be read as a query (400); one the grant does not approve is the grant's refusal (422).
            var unusable = category is null
                ? Refusal.Of(ProblemTypes.MalformedRequest, new Dictionary<string, string[]> { ["category"] = [message] }, "The aggregate query names no category.")
                : Refusal.Of(ProblemTypes.AggregateNotApproved, new Dictionary<string, string[]> { ["category"] = [message] }, "The aggregate query asks for a category this grant did not approve.");
            return await RefuseAsync(grant, recipient, AccessKinds.Aggregate, now, unusable, cancellationToken);
        }
        var query = new AggregateQuery(request!.GroupBy ?? [], request.Measures ?? [], request.Filters?.ToDictionary(f => f.Key, f => f.Value));
        var errors = AggregateEngine.Validate(spec, query);
        if (errors.Count > 0)
        {
            return await RefuseAsync(grant!, recipient, AccessKinds.Aggregate, now,
                Refusal.Of(ProblemTypes.AggregateNotApproved, errors, "The aggregate query asks for something this grant did not approve."),
                "unapproved aggregate query: " + string.Join("; ", errors.SelectMany(e => e.Value.Select(v => $"{e.Key}: {v}"))), cancellationToken);
        }
        var queryId = Guid.NewGuid();
        var verdict = await store.TryStartFetchAsync(grant!.Id, AccessKinds.Aggregate, queryId, grant.Fetch, now, cancellationToken);
        if (!verdict.Allowed)
        {
            return await ThrottleAsync(grant!, recipient, AccessKinds.Aggregate, now, verdict, cancellationToken);
        }

        await ReleaseDueBucketsAsync(grant!, offset, now, decidedAfter, cancellationToken);
        var cells = await store.CellsAsync(grant!.Id, category!, cancellationToken);
        var answer = AggregateEngine.Answer(spec, query, cells);
        var released = (await store.ReleasedBucketsAsync(grant.Id, cancellationToken)).Order(StringComparer.Ordinal).ToList();

        await RecordAccessAsync(new AccessRecord(grant, recipient, AccessKinds.Aggregate, AccessOutcomes.Served, now,
            [$"Aggregates of {category} from released cells only, k = {spec.K}; {answer.SuppressedGroups} group(s) suppressed, {answer.PartialGroups} partial."])
        {
            FetchId = queryId,
            FetchStart = true,
            Items = answer.Groups.Count,
            Details = new { category, groupBy = query.GroupBy, measures = query.Measures.Select(m => m.Name).ToList(), filters = query.Filters, released },
            DecidedAfter = decidedAfter,
        }, cancellationToken);
        return new AggregateResult(grant.Id, category!, grant.PurposeCode, spec.K, spec.PeriodDimension, released, answer.Groups,
            answer.SuppressedGroups, answer.PartialGroups, answer.Suppression);
    }

    /// <summary>
    /// Releases (once, frozen) every closed week of the grant's window not yet released, for all its
    /// approved categories: only residents the consent decision allows at release time take part.
    /// Each resident in a released cell gets a passbook line for the release.
    /// </summary>
    private async Task ReleaseDueBucketsAsync(GrantTerms grant, TimeSpan offset, DateTimeOffset now, long decidedAfter, CancellationToken cancellationToken)
    {
        var specs = grant.Categories.Select(c => (Category: c, Spec: grant.AggregateSpec(c, inventory, offset)!)).ToList();
        var releasedAlready = await store.ReleasedBucketsAsync(grant.Id, cancellationToken);
        var due = AggregateEngine.DueBuckets(specs[0].Spec, releasedAlready, now, TimeSpan.FromHours(_options.AggregateSettleHours));
        if (due.Count == 0)
        {
            return;
        }
        // Who may take part, decided once for this release: every candidate in one set-based query.
        var candidates = await store.ConsentingResidentsAsync(grant.Id, null, int.MaxValue, cancellationToken);
        var decided = await consent.DecideManyAsync(
            new InfoBank.Core.Consent.DecisionRequest(grant.Recipient, Guid.Empty, grant.PurposeCode, grant.Categories, Granularity.AggregateOnly, grant.Id),
            candidates, cancellationToken);
        var allowed = candidates.Where(r => decided[r].Allowed).ToList();
        // Each resident takes part only with data observed in the periods they consented for.
        var (grantFrom, grantTo) = grant.DataWindow(now);
        var periods = await consent.PeriodsManyAsync(grant.Id, allowed, new TimeRange(grantFrom, grantTo), cancellationToken);

        foreach (var bucket in due)
        {
            var bounds = TimeBuckets.Bounds(BucketPeriod.Week, bucket, offset)!.Value;
            // The first and last weeks overlap the grant's validity only in part: data observed
            // before the approval or after the grant's end was never part of what it approved.
            var (windowFrom, windowTo) = grant.DataWindow(bounds.End);
            var (readFrom, readTo) = (bounds.Start > windowFrom ? bounds.Start : windowFrom, bounds.End < windowTo ? bounds.End : windowTo);
            var cells = new List<(string, ReleasedCell)>();
            var contributed = new Dictionary<Guid, int>();
            foreach (var (category, spec) in specs)
            {
                var rows = new List<AggregateRow>();
                foreach (var resident in allowed)
                {
                    foreach (var span in ConsentedSpans(periods[resident], category, readFrom, readTo))
                    {
                        foreach (var record in await ReadAllAsync(resident, category, span.From, span.To, cancellationToken))
                        {
                            rows.Add(ToRow(spec, resident, record));
                        }
                    }
                }
                var released = AggregateEngine.Release(spec, bucket, rows);
                cells.AddRange(released.Select(c => (category, c)));
                var open = released.Where(c => !c.Suppressed).Select(c => AccessStore.CellKey(c.Key)).ToHashSet(StringComparer.Ordinal);
                foreach (var row in rows.Where(r => open.Contains(AccessStore.CellKey(r.Dimensions))))
                {
                    contributed[row.ResidentId] = contributed.GetValueOrDefault(row.ResidentId) + 1;
                }
            }
            var provisions = contributed.Select(c => new Provision(c.Key, c.Value, grant.BenefitPoints)).ToList();
            // The frozen cells commit with the release's audit entry and passbook lines; a bucket
            // released meanwhile by a concurrent request is left as it is, and this one records nothing.
            var recorded = await RecordAccessAsync(new AccessRecord(grant, grant.Recipient, AccessKinds.AggregateRelease, AccessOutcomes.Served, now,
                [$"Week {bucket} released for aggregates: {cells.Count(c => c.Item2.Suppressed)} of {cells.Count} cell(s) suppressed (fewer than k residents)."])
            {
                Items = cells.Count,
                Provisions = provisions,
                Details = new
                {
                    bucket,
                    // The consent each contributor's data was released under: the verifier checks them.
                    consents = provisions.Select(p => decided[p.ResidentId].ConsentId).ToList(),
                },
                Residents = [.. provisions.Select(p => p.ResidentId)],
                DecidedAfter = decidedAfter,
                Effect = s => AccessStore.SaveReleaseAsync(s, grant.Id, bucket, cells, now),
            }, cancellationToken);
            if (recorded)
            {
                LogReleased(logger, grant.Id, bucket, cells.Count);
            }
        }
    }

    private static JsonElement Projected(byte[] payload, IReadOnlySet<string> fields)
    {
        var reader = new Utf8JsonReader(RecordProjection.Project(payload, fields));
        return JsonElement.ParseValue(ref reader);
    }

    private static AggregateRow ToRow(AggregateSpec spec, Guid resident, OpenedRecord record)
    {
        using var document = JsonDocument.Parse(record.Payload);
        var root = document.RootElement;
        var dims = spec.Dimensions.Select(d => root.TryGetProperty(d, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "(none)").ToArray();
        var values = spec.Fields.Select(f => root.TryGetProperty(f, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN).ToArray();
        return new AggregateRow(resident, record.ObservedAt, dims, values);
    }

    private async Task<List<OpenedRecord>> ReadAllAsync(Guid resident, string category, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var all = new List<OpenedRecord>();
        var query = new RecordQuery(category, from, to, null, null, 500);
        while (true)
        {
            var batch = await vault.ListAsync(resident, query, cancellationToken);
            // A record that failed its integrity check counts towards no aggregate.
            all.AddRange(batch.Where(r => r.Integrity == RecordIntegrity.Intact));
            if (batch.Count < query.Limit)
            {
                return all;
            }
            query = query with { AfterObservedAt = batch[^1].ObservedAt, AfterId = batch[^1].Id };
        }
    }

    // Within one resident, records go category by category (approved order), then (observedAt, id),
    // which is custody's own keyset order: "categoryIndex|observedAt ticks|id". Only the spans the
    // resident consented for are read, in time order, so a record observed in a gap is never even
    // decrypted, and fewer than limit rows still means the resident is finished (the pager relies on it).
    private async Task<IReadOnlyList<(OpenedRecord Row, string Position)>> ReadResidentAsync(
        Guid resident, IReadOnlyList<string> categories, IReadOnlyList<ConsentedPeriod> periods, DateTimeOffset from, DateTimeOffset to,
        string? within, int limit, CancellationToken cancellationToken)
    {
        var (startCategory, afterAt, afterId) = ParseWithin(within);
        var result = new List<(OpenedRecord, string)>();
        for (var c = startCategory; c < categories.Count && result.Count < limit; c++)
        {
            var resume = c == startCategory ? afterAt : null;
            foreach (var span in ConsentedSpans(periods, categories[c], from, to))
            {
                if (result.Count == limit)
                {
                    break;
                }
                if (resume is { } at && span.To <= at)
                {
                    // Wholly before where the previous page stopped.
                    continue;
                }
                var query = new RecordQuery(categories[c], span.From, span.To, resume, resume is null ? null : afterId, limit - result.Count);
                while (result.Count < limit)
                {
                    var asked = limit - result.Count;
                    var batch = await vault.ListAsync(resident, query with { Limit = asked }, cancellationToken);
                    // A record that failed its integrity check never leaves; reading on past it keeps
                    // "fewer than limit rows means the resident is finished" true.
                    foreach (var record in batch.Where(r => r.Integrity == RecordIntegrity.Intact))
                    {
                        result.Add((record, $"{c}|{record.ObservedAt.UtcTicks}|{record.Id:N}"));
                    }
                    if (batch.Count < asked)
                    {
                        break;
                    }
                    query = query with { AfterObservedAt = batch[^1].ObservedAt, AfterId = batch[^1].Id };
                }
            }
        }
        return result;
    }

    /// <summary>
    /// The parts of [<paramref name="from"/>, <paramref name="to"/>) that the resident's consented
    /// periods cover for <paramref name="category"/>, in time order, overlapping ones merged (so no
    /// record is read twice).
    /// </summary>
    private static List<TimeRange> ConsentedSpans(IReadOnlyList<ConsentedPeriod> periods, string category, DateTimeOffset from, DateTimeOffset to)
    {
        var spans = new List<TimeRange>();
        foreach (var period in periods.Where(p => p.Items.Contains(category)).OrderBy(p => p.Range.From))
        {
            // In UTC: a week's bounds carry the bucket offset (+09:00), which PostgreSQL refuses as a parameter.
            var span = new TimeRange((period.Range.From > from ? period.Range.From : from).ToUniversalTime(), (period.Range.To < to ? period.Range.To : to).ToUniversalTime());
            if (span.IsEmpty)
            {
                continue;
            }
            if (spans.Count > 0 && span.From <= spans[^1].To)
            {
                spans[^1] = spans[^1] with { To = span.To > spans[^1].To ? span.To : spans[^1].To };
                continue;
            }
            spans.Add(span);
        }
        return spans;
    }

    private static (int Category, DateTimeOffset? AfterAt, Guid? AfterId) ParseWithin(string? within)
    {
        if (within is null)
        {
            return (0, null, null);
        }
        var parts = within.Split('|');
        // The position came out of an authenticated cursor we issued, so it is well-formed.
        return (int.Parse(parts[0], CultureInfo.InvariantCulture),
            new DateTimeOffset(long.Parse(parts[1], CultureInfo.InvariantCulture), TimeSpan.Zero),
            Guid.ParseExact(parts[2], "N"));
    }

    /// <summary>
    /// The grant, if this recipient may use it now. Also returns the audit log's size read just before
    /// the grant was: the access's decision horizon. A suspension or revocation audited below it was
    /// committed before the grant was read, so an access allowed after it would be a violation; one
    /// audited at or above it may have raced the request, which was decided on the state before it.
    /// The verifier's replay (<c>decidedAfter</c> in the access.allowed payload) applies exactly this rule.
    /// </summary>
    private async Task<(GrantTerms? Grant, Refusal? Refusal, long DecidedAfter)> UsableGrantAsync(string recipient, Guid grantId, string kind, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var decidedAfter = (await auditStore.CurrentFrontierAsync(cancellationToken)).Size;
        var view = await applications.FindGrantAsync(grantId, cancellationToken);
        if (view is null || !string.Equals(view.RecipientClientId, recipient, StringComparison.Ordinal))
        {
            // Another business's grant gets the same answer as a grant that does not exist.
            var detail = $"There is no grant {grantId} for this business.";
            await LogAttemptAsync(grantId, recipient, kind, AccessOutcomes.Refused, now, view is null ? "unknown grant" : "grant of another business", cancellationToken);
            return (null, Refusal.Of(ProblemTypes.NotFound, detail), decidedAfter);
        }
        var grant = GrantTerms.From(view);
        if (grant.Inactive(now) is { } why)
        {
            await RecordAccessAsync(new AccessRecord(grant, recipient, kind, AccessOutcomes.GrantInactive, now, [why]), cancellationToken);
            return (grant, Refusal.Of(ProblemTypes.GrantInactive, why), decidedAfter);
        }
        if (kind == AccessKinds.Records && grant.AggregateOnly)
        {
            return (grant, await RefuseAsync(grant, recipient, kind, now, Refusal.Of(ProblemTypes.AccessKindNotApproved,
                "This grant allows aggregate results only: use POST /api/v1/grants/{id}/aggregates."), cancellationToken), decidedAfter);
        }
        if (kind == AccessKinds.Aggregate && !grant.AggregateOnly)
        {
            return (grant, await RefuseAsync(grant, recipient, kind, now, Refusal.Of(ProblemTypes.AccessKindNotApproved,
                "This grant was approved for record-level access; aggregates are offered for aggregate-only grants."), cancellationToken), decidedAfter);
        }
        return (grant, null, decidedAfter);
    }

    private async Task<Refusal> ThrottleAsync(GrantTerms grant, string recipient, string kind, DateTimeOffset now, FetchVerdict verdict, CancellationToken cancellationToken)
    {
        await RecordAccessAsync(new AccessRecord(grant, recipient, kind, AccessOutcomes.Throttled, now, [verdict.Reason]) { FetchStart = true }, cancellationToken);
        return verdict.Kind == FetchVerdictKind.Exhausted
            ? Refusal.Of(ProblemTypes.FetchesExhausted, verdict.Reason)
            : Refusal.Of(ProblemTypes.OverApprovedFrequency, verdict.Reason) with { RetryAfter = verdict.RetryAfter ?? TimeSpan.FromSeconds(1) };
    }

    private Task<Refusal> RefuseAsync(GrantTerms grant, string recipient, string kind, DateTimeOffset now, Refusal refusal, CancellationToken cancellationToken) =>
        RefuseAsync(grant, recipient, kind, now, refusal, refusal.Detail, cancellationToken);

    // The reason goes to the audit entry and access log in place of the refusal's own detail.
    private async Task<Refusal> RefuseAsync(GrantTerms grant, string recipient, string kind, DateTimeOffset now, Refusal refusal, string reason, CancellationToken cancellationToken)
    {
        await RecordAccessAsync(new AccessRecord(grant, recipient, kind, AccessOutcomes.Refused, now, [reason]), cancellationToken);
        return refusal;
    }

    private Task LogAttemptAsync(Guid grantId, string recipient, string kind, string outcome, DateTimeOffset now, string reason, CancellationToken cancellationToken) =>
        audit.CommitAsync(async (scope, _) =>
        {
            var appended = scope.Append(new AuditEntryDraft(AuditKinds.AccessDenied, $"client:{recipient}", GrantId: grantId,
                Payload: new { kind, outcome, reason }));
            await AccessStore.RecordAsync(scope.Db, new AccessLogEntry(Guid.CreateVersion7(now), now, grantId, recipient, kind, outcome, null, false, 0, 0, "[]", "", "", "",
                AccessViewMapping.Json([reason]), appended.Sequence), []);
            return true;
        }, cancellationToken);

    /// <summary>
    /// One access as the audit entry, the access log row and the passbook lines record it. Outcomes
    /// other than served leave the counts and the people empty.
    /// </summary>
    /// <param name="Reasons">Why it was served or refused, as the passbook and the audit entry show it.</param>
    private sealed record AccessRecord(GrantTerms Grant, string Recipient, string Kind, string Outcome, DateTimeOffset Now, IReadOnlyList<string> Reasons)
    {
        public Guid? FetchId { get; init; }

        public bool FetchStart { get; init; }

        public int Items { get; init; }

        public IReadOnlyList<Provision> Provisions { get; init; } = [];

        public object? Details { get; init; }

        /// <summary>Whose data it provided: the entry names them by audit pseudonym, in this order.</summary>
        public IReadOnlyList<Guid>? Residents { get; init; }

        public long? DecidedAfter { get; init; }

        /// <summary>A change that must commit with the record (a release's frozen cells); when it returns false, nothing is recorded.</summary>
        public Func<DbSession, Task<bool>>? Effect { get; init; }
    }

    /// <summary>
    /// The audit entry, the access log row and the passbook lines, in one audited transaction: all
    /// durable before any data is returned, and none without the others.
    /// </summary>
    private Task<bool> RecordAccessAsync(AccessRecord access, CancellationToken cancellationToken) =>
        audit.CommitAsync(async (scope, _) =>
        {
            if (access.Effect is not null && !await access.Effect(scope.Db))
            {
                return false;
            }
            var (grant, recipient, kind, outcome, now, reasons) = access;
            var id = Guid.CreateVersion7(now);
            var appended = scope.Append(new AuditEntryDraft(
                outcome == AccessOutcomes.Served ? AuditKinds.AccessAllowed : AuditKinds.AccessDenied,
                $"client:{recipient}", Purpose: grant.PurposeCode, GrantId: grant.Id, PolicyHash: grant.PolicyHash,
                Payload: new { accessId = id, kind, outcome, items = grant.Items, count = access.Items, reasons, details = access.Details, decidedAfter = access.DecidedAfter },
                Residents: access.Residents));
            await AccessStore.RecordAsync(scope.Db, new AccessLogEntry(id, now, grant.Id, recipient, kind, outcome, access.FetchId, access.FetchStart, access.Items, access.Provisions.Count,
                AccessViewMapping.Json(grant.Items), grant.PurposeCode, grant.Approval, grant.PolicyHash, AccessViewMapping.Json(reasons), appended.Sequence),
                access.Provisions);
            return true;
        }, cancellationToken);

    [LoggerMessage(Level = LogLevel.Information, Message = "Released aggregate week {Bucket} of grant {GrantId}: {Cells} cells")]
    private static partial void LogReleased(ILogger logger, Guid grantId, string bucket, int cells);
}
