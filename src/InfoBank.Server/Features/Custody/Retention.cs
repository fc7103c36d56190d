using InfoBank.Core.Audit;
using InfoBank.Core.Custody;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Custody;

/// <summary>One category's share of a retention run: the cut-off it deletes below, how many records it found, how many it has deleted.</summary>
public sealed class RetentionRunRow
{
    public Guid RunId { get; init; }

    public string Category { get; init; } = "";

    public DateTimeOffset KeptFrom { get; init; }

    public long Expired { get; init; }

    public long Deleted { get; init; }
}

/// <summary>What one run of the retention job did: per category, the cut-off and the records deleted.</summary>
public sealed record RetentionRunResult(Guid RunId, IReadOnlyDictionary<string, long> Deleted, int Batches, TimeSpan LongestBatch);

/// <summary>The retention job's own rows (<c>custody_retention_runs</c>): which cut-offs an audited run announced, and its progress.</summary>
public sealed class RetentionStore(DbConnectionFactory db, TimeProvider time)
{
    private const string InsertRun = """
        INSERT INTO custody_retention_runs (run_id, category, kept_from, expired, deleted, started_at)
        VALUES (@runId, @category, @keptFrom, @expired, 0, @now)
        """;

    private const string SelectUnfinished = """
        SELECT run_id, category, kept_from, expired, deleted
        FROM custody_retention_runs WHERE finished_at IS NULL ORDER BY started_at, category
        """;

    private const string AddDeleted = """
        UPDATE custody_retention_runs SET deleted = deleted + @deleted WHERE run_id = @runId AND category = @category
        """;

    private const string Finish = """
        UPDATE custody_retention_runs SET finished_at = @now WHERE run_id = @runId AND category = @category
        """;

    /// <summary>Records a run's cut-offs in the caller's (audited) transaction.</summary>
    public static async Task StartAsync(DbSession s, Guid runId, IEnumerable<(string Category, DateTimeOffset KeptFrom, long Expired)> categories, DateTimeOffset now)
    {
        foreach (var (category, keptFrom, expired) in categories)
        {
            await s.ExecuteAsync(InsertRun, new { runId, category, keptFrom, expired, now });
        }
    }

    public Task<IReadOnlyList<RetentionRunRow>> UnfinishedAsync(CancellationToken cancellationToken) =>
        db.ReadAsync<IReadOnlyList<RetentionRunRow>>(async s => await s.QueryAsync<RetentionRunRow>(SelectUnfinished, cancellationToken: cancellationToken), cancellationToken);

    public Task AddDeletedAsync(Guid runId, string category, long deleted, CancellationToken cancellationToken) =>
        db.InTransactionAsync(s => s.ExecuteAsync(AddDeleted, new { runId, category, deleted }, cancellationToken), cancellationToken);

    public Task FinishAsync(Guid runId, string category, CancellationToken cancellationToken) =>
        db.InTransactionAsync(s => s.ExecuteAsync(Finish, new { runId, category, now = time.GetUtcNow() }, cancellationToken), cancellationToken);
}

/// <summary>
/// Deletes records past their category's retention (<c>pia/inventory.yaml</c>, APPI Art. 22: data no
/// longer needed is deleted without delay). Reads never see such records (<see cref="RecordVault"/>
/// filters each read by the cut-off), so this job frees the rows rather than hiding them. A run
/// counts what is past each cut-off and commits one <c>records.expired</c> audit entry (cut-off and
/// count per category) with the run's rows before it deletes anything; it then deletes in short
/// batches of <see cref="CustodyOptions.RetentionBatchSize"/> rows, each its own transaction, so no
/// lock is held for long and deposits and reads go on meanwhile. A run cut short (crash, shutdown)
/// is finished under its own cut-offs by the next one, without a second entry: every deleted record
/// is announced by exactly one entry. Nothing can appear below a cut-off after the count, because a
/// deposit older than its category's retention is refused.
/// </summary>
public sealed partial class RetentionSweeper(
    RecordVault vault, RetentionStore store, IAuditLog audit, DataInventory inventory, IOptions<CustodyOptions> options, TimeProvider time, ILogger<RetentionSweeper> logger)
{
    public async Task<RetentionRunResult?> RunAsync(CancellationToken cancellationToken)
    {
        var stats = new BatchStats();
        RetentionRunResult? last = null;
        foreach (var unfinished in (await store.UnfinishedAsync(cancellationToken)).GroupBy(r => r.RunId))
        {
            last = await DeleteAsync(unfinished.Key, [.. unfinished], stats, cancellationToken);
        }

        var now = time.GetUtcNow();
        var expired = new List<(string Category, DateTimeOffset KeptFrom, long Expired)>();
        foreach (var category in inventory.Categories.Values)
        {
            var keptFrom = category.KeptFrom(now);
            var count = await vault.CountExpiredAsync(category.Name, keptFrom, cancellationToken);
            if (count > 0)
            {
                expired.Add((category.Name, keptFrom, count));
            }
        }
        if (expired.Count == 0)
        {
            return last;
        }

        var runId = Guid.CreateVersion7(now);
        await audit.CommitAsync(async (scope, _) =>
        {
            await RetentionStore.StartAsync(scope.Db, runId, expired, scope.Now);
            scope.Append(new AuditEntryDraft(AuditKinds.RecordsExpired, "system", Payload: new
            {
                runId,
                inventory = inventory.ContentHash,
                categories = expired.ToDictionary(e => e.Category, e => new { keptFrom = e.KeptFrom, expired = e.Expired }),
            }));
            return true;
        }, cancellationToken);
        LogStarted(logger, runId, expired.Sum(e => e.Expired));
        return await DeleteAsync(runId, [.. expired.Select(e => new RetentionRunRow { RunId = runId, Category = e.Category, KeptFrom = e.KeptFrom, Expired = e.Expired })], stats, cancellationToken);
    }

    private async Task<RetentionRunResult> DeleteAsync(Guid runId, IReadOnlyList<RetentionRunRow> categories, BatchStats stats, CancellationToken cancellationToken)
    {
        var batch = options.Value.RetentionBatchSize;
        var deleted = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var row in categories)
        {
            long total = row.Deleted;
            int count;
            do
            {
                var started = time.GetTimestamp();
                count = await vault.DeleteExpiredBatchAsync(row.Category, row.KeptFrom, batch, cancellationToken);
                stats.Add(time.GetElapsedTime(started));
                if (count > 0)
                {
                    // Progress is kept for the operator's view of a long run; correctness needs only the cut-off.
                    await store.AddDeletedAsync(runId, row.Category, count, cancellationToken);
                    total += count;
                }
            }
            while (count == batch);
            await store.FinishAsync(runId, row.Category, cancellationToken);
            deleted[row.Category] = total;
        }
        LogFinished(logger, runId, deleted.Values.Sum(), stats.Batches);
        return new RetentionRunResult(runId, deleted, stats.Batches, stats.Longest);
    }

    private sealed class BatchStats
    {
        public int Batches { get; private set; }

        public TimeSpan Longest { get; private set; }

        public void Add(TimeSpan elapsed)
        {
            Batches++;
            Longest = elapsed > Longest ? elapsed : Longest;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention run {RunId}: {Count} records past retention, audited; deleting")]
    private static partial void LogStarted(ILogger logger, Guid runId, long count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention run {RunId}: {Count} records deleted in {Batches} batches")]
    private static partial void LogFinished(ILogger logger, Guid runId, long count, int batches);
}
