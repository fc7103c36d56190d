using System.Diagnostics;
using Dapper;
using InfoBank.Core.Access;
using InfoBank.Core.Consent;
using InfoBank.Server.Features.Access;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Bench;

/// <summary>
/// The aggregate engine over 100,000 synthetic Sapporo residents walking every day of one week
/// (700,000 daily step records; 20,000 residents with --quick): how fast a closed week's cells are
/// released (grouping, distinct-resident k-check, sorted values for medians), and the latency of
/// answering queries from the released cells, which is what a business waits for. And, through the
/// server, who may take part in a release: the consent decisions for 100,000 consenting residents
/// (20,000 with --quick) in one set-based query, against one decision per resident as before.
/// </summary>
public sealed class AccessAggregateBenchmark : IBenchmark
{
    private static readonly TimeSpan Jst = TimeSpan.FromHours(9);
    private static readonly string[] Wards = ["Chuo", "Kita", "Higashi", "Shiroishi", "Toyohira", "Minami", "Nishi", "Atsubetsu", "Teine", "Kiyota"];
    private static readonly string[] Bands = ["10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89", "90+"];

    public string Name => "access-aggregates";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext context)
    {
        var residents = context.Quick ? 20_000 : 100_000;
        var spec = new AggregateSpec(["ward", "ageBand"], ["steps", "activeMinutes"], K: 10, BucketPeriod.Week, Jst,
            new DateTimeOffset(2026, 11, 1, 0, 0, 0, Jst), new DateTimeOffset(2026, 12, 1, 0, 0, 0, Jst));
        var rows = Rows(residents);

        IReadOnlyList<ReleasedCell> cells = [];
        var releasePerSecond = await Measure.MedianAsync(3, _ =>
        {
            var watch = Stopwatch.StartNew();
            cells = AggregateEngine.Release(spec, "2026-W47", rows);
            watch.Stop();
            return Task.FromResult(Measure.PerSecond(rows.Count, watch));
        });

        AggregateQuery[] queries =
        [
            Query(["ward", "ageBand"]),
            Query(["ward"]),
            Query([]),
            Query(["ageBand"], new Dictionary<string, IReadOnlyList<string>> { ["ward"] = ["Chuo", "Kita"] }),
        ];
        var latencies = new List<double>();
        // The first rounds include JIT compilation; they are run but not counted.
        for (var i = -20; i < 200; i++)
        {
            var watch = Stopwatch.StartNew();
            var answer = AggregateEngine.Answer(spec, queries[(i + 20) % queries.Length], cells);
            watch.Stop();
            if (answer.Groups.Count == 0)
            {
                throw new InvalidOperationException("The benchmark query returned nothing.");
            }
            if (i >= 0)
            {
                latencies.Add(watch.Elapsed.TotalMilliseconds);
            }
        }
        latencies.Sort();
        var suppressed = cells.Count(c => c.Suppressed);
        var (bulkMs, oneByOnePerSecond) = await ReleaseDecisionsAsync(context, residents);
        return
        [
            new BenchResult($"release consent decisions, {residents:N0} consenting residents, one set-based query", bulkMs, "ms", HigherIsBetter: false,
                Note: $"{residents / (bulkMs / 1000):N0} residents/s; one query per resident (as before): {oneByOnePerSecond:N0} residents/s"),
            new BenchResult($"aggregate release of one week, {residents:N0} residents × 7 daily records", releasePerSecond, "records/s",
                Note: $"{cells.Count} cells, {suppressed} suppressed (k = 10)"),
            new BenchResult($"aggregate query from released cells, {residents:N0} residents, count/sum/mean/median, p50", Measure.Percentile(latencies, 0.50), "ms", HigherIsBetter: false),
            new BenchResult($"aggregate query from released cells, {residents:N0} residents, count/sum/mean/median, p95", Measure.Percentile(latencies, 0.95), "ms", HigherIsBetter: false),
        ];
    }

    /// <summary>
    /// The part of a weekly release that asks the consent ledger: every candidate of the grant, then
    /// every decision, as GrantAccessService does it; and, for comparison, one decision per resident
    /// for a sample of 2,000.
    /// </summary>
    private static async Task<(double BulkMs, double OneByOnePerSecond)> ReleaseDecisionsAsync(BenchContext context, int count)
    {
        using var server = new BenchServer(context, "access-release");
        var (grantId, _) = await AccessRecordsBenchmark.ApprovedGrantAsync(server);
        var residents = Enumerable.Range(0, count).Select(_ => Guid.NewGuid()).ToList();
        using (var scope = server.Services.CreateScope())
        {
            // Enrolment rows only (no keys or records are needed to decide consent), 5,000 a transaction.
            var db = scope.ServiceProvider.GetRequiredService<DbConnectionFactory>();
            var now = DateTimeOffset.UtcNow;
            foreach (var chunk in residents.Chunk(5_000))
            {
                await using var connection = await db.OpenAsync();
                await using var transaction = await connection.BeginTransactionAsync();
                await connection.ExecuteAsync(
                    "INSERT INTO residents (account_id, status, terms_version, terms_hash, enrolled_at) VALUES (@id, 'enrolled', @version, @hash, @now)",
                    chunk.Select(id => new { id, version = CustodyTerms.Current.Version, hash = CustodyTerms.Current.Hash, now }), transaction);
                await transaction.CommitAsync();
            }
        }
        await AccessRecordsBenchmark.ConsentAsync(server, grantId, residents);

        using var measure = server.Services.CreateScope();
        var store = measure.ServiceProvider.GetRequiredService<AccessStore>();
        var consent = measure.ServiceProvider.GetRequiredService<ConsentDecisions>();
        var grant = GrantTerms.From((await measure.ServiceProvider.GetRequiredService<InfoBank.Server.Features.Applications.ApplicationService>().FindGrantAsync(grantId, default))!);
        var request = new InfoBank.Core.Consent.DecisionRequest(grant.Recipient, Guid.Empty, grant.PurposeCode, grant.Categories, Granularity.AggregateOnly, grant.Id);

        var bulkMs = await Measure.MedianAsync(3, async _ =>
        {
            var watch = Stopwatch.StartNew();
            var candidates = await store.ConsentingResidentsAsync(grant.Id, null, int.MaxValue, default);
            var decided = await consent.DecideManyAsync(request, candidates, default);
            watch.Stop();
            if (candidates.Count != count || decided.Values.Any(d => !d.Allowed))
            {
                throw new InvalidOperationException($"{candidates.Count} candidates, {decided.Values.Count(d => !d.Allowed)} denied; expected {count} allowed");
            }
            return watch.Elapsed.TotalMilliseconds;
        });

        var sample = residents.Take(2_000).ToList();
        var one = Stopwatch.StartNew();
        foreach (var resident in sample)
        {
            if (!(await consent.DecideAsync(request with { SubjectId = resident })).Allowed)
            {
                throw new InvalidOperationException("a consenting resident was denied");
            }
        }
        one.Stop();
        return (bulkMs, Measure.PerSecond(sample.Count, one));
    }

    private static AggregateQuery Query(string[] groupBy, Dictionary<string, IReadOnlyList<string>>? filters = null) =>
        new(groupBy, [new("count", null), new("sum", "steps"), new("mean", "steps"), new("median", "steps"), new("median", "activeMinutes")], filters);

    private static List<AggregateRow> Rows(int residents)
    {
        var random = new Random(20261122);
        var monday = new DateTimeOffset(2026, 11, 16, 0, 0, 0, Jst);
        var rows = new List<AggregateRow>(residents * 7);
        for (var r = 0; r < residents; r++)
        {
            var id = Guid.NewGuid();
            // A few tiny groups (the oldest band in two wards) so that suppression has work to do.
            string[] dims = r % 25_000 is 0 or 1 ? [Wards[r % 2], "90+"] : [Wards[random.Next(Wards.Length)], Bands[random.Next(Bands.Length - 1)]];
            for (var d = 0; d < 7; d++)
            {
                rows.Add(new AggregateRow(id, monday.AddDays(d).AddHours(20), dims, [random.Next(500, 20_000), random.Next(0, 120)]));
            }
        }
        return rows;
    }
}
