using System.Collections.Concurrent;
using System.Diagnostics;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Data.Sqlite;

namespace InfoBank.Bench;

/// <summary>
/// The ceiling of the audit log's single writer: durable appends per second against the number of
/// concurrent appenders (1, 8, 32, 128) through one writer, and through two writers on the same
/// database — two API nodes sharing it, each with its own group-commit loop, serialised by the lock
/// on the frontier row. Each level runs for a fixed time on a log that keeps growing. Afterwards the
/// whole log is checked: consecutive sequences, every leaf hash recomputed from its row, the root of
/// all leaves equal to the stored frontier's, and every append a caller was told about found at the
/// sequence and with the leaf hash it was told.
/// </summary>
public sealed class AuditScalingBenchmark : IBenchmark
{
    private static readonly int[] Appenders = [1, 8, 32, 128];

    public string Name => "audit-scaling";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext context)
    {
        var seconds = context.Quick ? 2.0 : 6.0;
        var results = new List<BenchResult>();
        foreach (var database in context.Databases)
        {
            var path = context.NewDatabasePath("audit-scaling");
            var options = database == BenchDatabase.Postgres
                ? new DatabaseOptions { Provider = DatabaseProvider.Postgres, ConnectionString = await context.NewPostgresDatabaseAsync("audit_scaling") }
                : new DatabaseOptions { Provider = DatabaseProvider.Sqlite, ConnectionString = $"Data Source={path}" };
            var store = AuditBenchmark.NewStore(options);
            var told = new ConcurrentBag<AuditAppended>();

            await using (var writer = AuditBenchmark.NewWriter(store))
            {
                await writer.AppendAsync(AuditBenchmark.Draft); // warm up: pool, JIT
                foreach (var appenders in Appenders)
                {
                    var (rate, count) = await RunAsync([writer], appenders, seconds, told);
                    results.Add(new BenchResult($"audit append, one writer, {appenders} concurrent appenders", rate, "appends/s",
                        Note: $"{count:N0} entries in {seconds:0} s", Database: database));
                }
            }

            // Two nodes: two writers, each with its own store and connection factory, on the one database.
            var second = AuditBenchmark.NewStore(options);
            await using (var first = AuditBenchmark.NewWriter(store))
            await using (var other = AuditBenchmark.NewWriter(second))
            {
                foreach (var appenders in new[] { 32, 128 })
                {
                    var (rate, count) = await RunAsync([first, other], appenders, seconds, told);
                    results.Add(new BenchResult($"audit append, two writers (two nodes), {appenders} concurrent appenders in all", rate, "appends/s",
                        Note: $"{count:N0} entries in {seconds:0} s", Database: database));
                }
            }

            var verified = await VerifyAsync(store, told);
            results.Add(new BenchResult("audit log verified after the runs (one and two writers)", verified, "entries",
                Note: "consecutive, every leaf recomputed, root = frontier, every acknowledged append found where it was acknowledged", Database: database));

            if (database == BenchDatabase.Sqlite)
            {
                SqliteConnection.ClearAllPools();
                foreach (var file in new[] { path, path + "-wal", path + "-shm" })
                {
                    File.Delete(file);
                }
            }
        }
        return results;
    }

    /// <summary><paramref name="appenders"/> loops, spread evenly over the writers, appending until the time is up.</summary>
    private static async Task<(double Rate, long Count)> RunAsync(
        AuditLogWriter[] writers, int appenders, double seconds, ConcurrentBag<AuditAppended> told)
    {
        long count = 0;
        var watch = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, appenders).Select(i => Task.Run(async () =>
        {
            var writer = writers[i % writers.Length];
            while (watch.Elapsed < deadline)
            {
                told.Add(await writer.AppendAsync(AuditBenchmark.Draft));
                Interlocked.Increment(ref count);
            }
        })));
        watch.Stop();
        return (Measure.PerSecond(count, watch), count);
    }

    private static async Task<long> VerifyAsync(AuditStore store, ConcurrentBag<AuditAppended> told)
    {
        var frontier = await store.CurrentFrontierAsync();
        var leaves = new List<byte[]>((int)frontier.Size);
        for (long from = 0; from < frontier.Size;)
        {
            foreach (var row in await store.EntriesAsync(from, frontier.Size, 5_000))
            {
                if (row.Sequence != from || !row.LeafHash.AsSpan().SequenceEqual(row.ToEntry().LeafHash()))
                {
                    throw new InvalidOperationException($"The audit log does not verify at entry {from}.");
                }
                leaves.Add(row.LeafHash);
                from++;
            }
        }
        if (!Merkle.RootOf(leaves).AsSpan().SequenceEqual(frontier.Root()))
        {
            throw new InvalidOperationException("The root of the stored leaves is not the stored frontier's.");
        }
        foreach (var appended in told)
        {
            if (appended.Sequence >= leaves.Count || !leaves[(int)appended.Sequence].AsSpan().SequenceEqual(appended.LeafHash))
            {
                throw new InvalidOperationException($"Entry {appended.Sequence} was acknowledged but is not stored as acknowledged.");
            }
        }
        if (told.Select(a => a.Sequence).Distinct().Count() != told.Count)
        {
            throw new InvalidOperationException("Two appends were acknowledged with the same sequence.");
        }
        return frontier.Size;
    }
}
