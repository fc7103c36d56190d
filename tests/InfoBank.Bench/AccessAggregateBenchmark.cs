using System.Diagnostics;
using InfoBank.Core.Access;

namespace InfoBank.Bench;

/// <summary>
/// The aggregate engine over 100,000 synthetic Sapporo residents walking every day of one week
/// (700,000 daily step records; 20,000 residents with --quick): how fast a closed week's cells are
/// released (grouping, distinct-resident k-check, sorted values for medians), and the latency of
/// answering queries from the released cells, which is what a business waits for.
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
        return
        [
            new BenchResult($"aggregate release of one week, {residents:N0} residents × 7 daily records", releasePerSecond, "records/s",
                Note: $"{cells.Count} cells, {suppressed} suppressed (k = 10)"),
            new BenchResult($"aggregate query from released cells, {residents:N0} residents, count/sum/mean/median, p50", Measure.Percentile(latencies, 0.50), "ms", HigherIsBetter: false),
            new BenchResult($"aggregate query from released cells, {residents:N0} residents, count/sum/mean/median, p95", Measure.Percentile(latencies, 0.95), "ms", HigherIsBetter: false),
        ];
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
