using System.Diagnostics;
using System.Text;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Bench;

/// <summary>
/// The retention job (<see cref="RetentionSweeper"/>, the hourly <c>custody-delete-expired</c>) over
/// 1,000,000 expired <c>search.query</c> records (90-day retention) of 10,000 residents (100,000 of
/// 1,000 with --quick): records deleted per second over the whole run (the audited announcement
/// plus every 1,000-row batch), the longest batch transaction (the longest any write waits on it),
/// and the p99 latency of residents' record reads running alongside, against the same reads with
/// no job running.
/// </summary>
public sealed class RetentionBenchmark : IBenchmark
{
    private const int Readers = 2;
    private const int ReadResidents = 200;

    public string Name => "retention";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext context)
    {
        var results = new List<BenchResult>();
        foreach (var database in context.Databases)
        {
            results.AddRange(await RunOnAsync(context, database));
        }
        return results;
    }

    private static async Task<IReadOnlyList<BenchResult>> RunOnAsync(BenchContext context, string database)
    {
        var residentCount = context.Quick ? 1_000 : 10_000;
        var expired = context.Quick ? 100_000 : 1_000_000;
        using var server = await BenchServer.StartAsync(context, "retention", database);
        var setup = Stopwatch.StartNew();
        var (_, sourceId, residents) = await server.SourceWithResidentsAsync(residentCount, "search.query");
        using var scope = server.Services.CreateScope();
        var vault = scope.ServiceProvider.GetRequiredService<RecordVault>();
        var db = scope.ServiceProvider.GetRequiredService<DbConnectionFactory>();
        var now = DateTimeOffset.UtcNow;
        var payload = Encoding.UTF8.GetBytes($"{{\"query\":\"{new string('q', 150)}\",\"portal\":\"sapporo-city-portal\"}}");

        // Expired: observed 91 to 120 days ago, spread over every resident.
        for (var done = 0; done < expired; done += 5_000)
        {
            var batch = Enumerable.Range(done, Math.Min(5_000, expired - done))
                .Select(i => new NewRecord(residents[i % residents.Count].Resident, "search.query",
                    now.AddDays(-91).AddMinutes(-(i % (29 * 24 * 60))), $"old-{i}", payload))
                .ToList();
            await vault.InsertAsync(db, sourceId, batch, default);
        }
        // What the readers read: 20 current records for each of the first residents, which the job keeps.
        var readers = residents.Take(ReadResidents).Select(r => r.Resident).ToList();
        var current = readers.SelectMany(r => Enumerable.Range(0, 20).Select(i => new NewRecord(r, "search.query", now.AddHours(-i - 1), $"new-{r:N}-{i}", payload))).ToList();
        foreach (var chunk in current.Chunk(2_000))
        {
            await vault.InsertAsync(db, sourceId, [.. chunk], default);
        }
        setup.Stop();
        Console.Error.WriteLine($"  {database}: set-up of {expired:N0} expired records of {residentCount:N0} residents: {setup.Elapsed.TotalSeconds:N0} s");

        // Reads alone, then reads while the job runs.
        var idle = await ReadWhileAsync(vault, readers, Task.Delay(TimeSpan.FromSeconds(context.Quick ? 3 : 10)));
        var sweeper = scope.ServiceProvider.GetRequiredService<RetentionSweeper>();
        var watch = Stopwatch.StartNew();
        var job = Task.Run(() => sweeper.RunAsync(default));
        var busy = await ReadWhileAsync(vault, readers, job);
        watch.Stop();
        var run = await job ?? throw new InvalidOperationException("the retention job found nothing to delete");
        var deleted = run.Deleted.Values.Sum();
        if (deleted != expired)
        {
            throw new InvalidOperationException($"the retention job deleted {deleted:N0} records, expected {expired:N0}");
        }
        var idleP99 = Measure.Percentile(idle, 0.99);
        var busyP99 = Measure.Percentile(busy, 0.99);
        return
        [
            new BenchResult($"retention job, {expired:N0} expired records of {residentCount:N0} residents", Measure.PerSecond(deleted, watch), "records/s",
                Note: $"{run.Batches:N0} batches of ≤ 1,000 in {watch.Elapsed.TotalSeconds:N1} s, one audit entry", Database: database),
            new BenchResult("retention job, longest batch transaction", run.LongestBatch.TotalMilliseconds, "ms", HigherIsBetter: false,
                Note: "the longest a deposit or consent waits on the job", Database: database),
            new BenchResult($"record read (20 records) p99 while the job runs, {Readers} readers", busyP99, "ms", HigherIsBetter: false,
                Note: $"{busy.Count:N0} reads; p50 {Measure.Percentile(busy, 0.5):0.00} ms; with no job: p99 {idleP99:0.00} ms ({busyP99 / idleP99:0.0}×)", Database: database),
        ];
    }

    // Reads a resident's current records in a loop on each reader until stop completes; the latencies, sorted.
    private static async Task<List<double>> ReadWhileAsync(RecordVault vault, List<Guid> residents, Task stop)
    {
        var latencies = new List<double>();
        async Task Reader(int seed)
        {
            var random = new Random(seed);
            while (!stop.IsCompleted)
            {
                var watch = Stopwatch.StartNew();
                var records = await vault.ListAsync(residents[random.Next(residents.Count)], new RecordQuery(null, null, null, null, null, 100), default);
                watch.Stop();
                if (records.Count != 20)
                {
                    throw new InvalidOperationException($"a reader saw {records.Count} records, expected the 20 current ones");
                }
                lock (latencies)
                {
                    latencies.Add(watch.Elapsed.TotalMilliseconds);
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, Readers).Select(i => Task.Run(() => Reader(i))));
        await stop;
        latencies.Sort();
        return latencies;
    }
}
