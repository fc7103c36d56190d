using System.Diagnostics;
using InfoBank.Core.Audit;
using InfoBank.Core.Crypto;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace InfoBank.Bench;

/// <summary>
/// The audit log: durable appends per second through the real group-commit writer (32 concurrent
/// appenders, and one appender alone for contrast), proof latency from the stored subtrees, and
/// offline verification speed on a generated bundle of 1,000,000 entries.
/// </summary>
public sealed class AuditBenchmark : IBenchmark
{
    private const string Origin = "bench.infobank/audit";

    public string Name => "audit";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext context)
    {
        var results = new List<BenchResult>();
        var appends = context.Quick ? 4_000 : 20_000;

        foreach (var database in context.Databases)
        {
            var path = context.NewDatabasePath("audit");
            var options = database == BenchDatabase.Postgres
                ? new DatabaseOptions { Provider = DatabaseProvider.Postgres, ConnectionString = await context.NewPostgresDatabaseAsync("audit") }
                : new DatabaseOptions { Provider = DatabaseProvider.Sqlite, ConnectionString = $"Data Source={path}" };
            var (concurrent, single, store) = await AppendsAsync(options, appends);
            results.Add(new BenchResult("audit append, 32 concurrent appenders (group commit)", concurrent, "appends/s",
                Note: $"{appends:N0} entries, each durable before its caller returns", Database: database));
            results.Add(new BenchResult("audit append, one appender at a time", single, "appends/s", Note: "one commit per entry", Database: database));
            if (database == BenchDatabase.Sqlite)
            {
                results.AddRange(await ProofLatencyAsync(store, context.Quick ? 200 : 1_000));
                SqliteConnection.ClearAllPools();
                File.Delete(path);
            }
        }

        results.AddRange(await VerifyAsync(context, context.Quick ? 100_000 : 1_000_000));
        return results;
    }

    /// <summary>A migrated audit store on <paramref name="database"/>.</summary>
    internal static AuditStore NewStore(DatabaseOptions database)
    {
        SqliteTypeHandlers.Register();
        new Migrator(Options.Create(database), NullLogger<Migrator>.Instance).Migrate();
        return new AuditStore(new DbConnectionFactory(Options.Create(database)));
    }

    internal static AuditLogWriter NewWriter(AuditStore store) =>
        new(store, TimeProvider.System, Options.Create(new AuditOptions()), NullLogger<AuditLogWriter>.Instance);

    /// <summary>A typical access-decision entry: reasons, items, a count and 48 bytes of sealed personal data.</summary>
    internal static readonly AuditEntryDraft Draft = new(AuditKinds.AccessAllowed, "client:fitness-club", "r-0001", "fitness.stats", Guid.NewGuid(), "sha256:0f3a",
        new { reasons = new[] { "rule:fitness-aggregate-k10", "consent:active" }, items = new[] { "steps.daily" }, records = 120, note = new string('x', 80) },
        new byte[48]);

    private static async Task<(double Concurrent, double Single, AuditStore Store)> AppendsAsync(DatabaseOptions database, int count)
    {
        var store = NewStore(database);
        await using var log = NewWriter(store);
        var draft = Draft;

        await log.AppendAsync(draft); // warm up: connection pool, JIT
        var next = 0;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) <= count)
            {
                await log.AppendAsync(draft);
            }
        })));
        watch.Stop();
        var concurrent = Measure.PerSecond(count, watch);

        var alone = Math.Max(count / 10, 200);
        watch.Restart();
        for (var i = 0; i < alone; i++)
        {
            await log.AppendAsync(draft);
        }
        watch.Stop();
        return (concurrent, Measure.PerSecond(alone, watch), store);
    }

    private static async Task<IEnumerable<BenchResult>> ProofLatencyAsync(AuditStore store, int samples)
    {
        var proofs = new AuditProofs(store);
        var size = (await store.CurrentFrontierAsync()).Size;
        var random = new Random(7);
        var inclusion = new List<double>();
        var consistency = new List<double>();
        await proofs.InclusionAsync(0, size); // warm up
        for (var i = 0; i < samples; i++)
        {
            var watch = Stopwatch.StartNew();
            await proofs.InclusionAsync(random.NextInt64(size), size);
            inclusion.Add(watch.Elapsed.TotalMilliseconds);
            var old = random.NextInt64(1, size);
            watch.Restart();
            await proofs.ConsistencyAsync(old, size);
            consistency.Add(watch.Elapsed.TotalMilliseconds);
        }
        inclusion.Sort();
        consistency.Sort();
        var note = $"tree of {size:N0}, SQLite, {samples} random proofs";
        return
        [
            new BenchResult("audit inclusion proof p50", Measure.Percentile(inclusion, 0.50), "ms", HigherIsBetter: false, Note: note),
            new BenchResult("audit inclusion proof p99", Measure.Percentile(inclusion, 0.99), "ms", HigherIsBetter: false, Note: note),
            new BenchResult("audit consistency proof p50", Measure.Percentile(consistency, 0.50), "ms", HigherIsBetter: false, Note: note),
            new BenchResult("audit consistency proof p99", Measure.Percentile(consistency, 0.99), "ms", HigherIsBetter: false, Note: note),
        ];
    }

    private static async Task<IEnumerable<BenchResult>> VerifyAsync(BenchContext context, int entries)
    {
        var path = Path.Combine(context.WorkDirectory, $"audit-bundle-{Guid.NewGuid():N}.ndjson");
        var key = Ed25519Key.Generate();
        var watch = Stopwatch.StartNew();
        await GenerateBundleAsync(path, entries, key);
        var generated = watch.Elapsed;
        var bytes = new FileInfo(path).Length;

        watch.Restart();
        AuditVerificationReport report;
        await using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        {
            report = AuditVerifier.Verify(stream, new AuditVerifierOptions { PinnedKeys = [NoteVerifier.For(Origin, key.PublicKey)] });
        }
        watch.Stop();
        File.Delete(path);
        if (!report.Ok)
        {
            throw new InvalidOperationException($"The generated bundle did not verify: {report.Failure}");
        }
        return
        [
            new BenchResult($"audit verify offline, {entries:N0}-entry bundle", Measure.PerSecond(entries, watch), "entries/s",
                Note: $"{bytes / 1_048_576.0:N0} MiB, {report.CheckpointsVerified} checkpoints, consent replay on; generated in {generated.TotalSeconds:0.0} s"),
        ];
    }

    /// <summary>A realistic bundle: checkpoints every 100,000 entries and a mix of consent and access events.</summary>
    private static async Task GenerateBundleAsync(string path, int count, Ed25519Key key)
    {
        var start = new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero);
        var sealedData = new byte[48];
        AuditEntry Entry(long i)
        {
            var subject = $"r-{i % 1000:0000}";
            var kind = i < 1000 ? AuditKinds.ConsentGiven : (i % 10) switch
            {
                0 => AuditKinds.DepositBatch,
                1 => AuditKinds.AccessDenied,
                2 => AuditKinds.SignInSucceeded,
                _ => AuditKinds.AccessAllowed,
            };
            return new AuditEntry(i, start.AddMilliseconds(i * 10), kind, kind == AuditKinds.AccessAllowed ? "client:fitness-club" : "system",
                subject, "fitness.stats", null, "sha256:0f3a", $"{{\"records\":{i % 120},\"items\":[\"steps.daily\"]}}", i % 3 == 0 ? sealedData : null);
        }

        // First pass: the roots at each checkpoint size, so checkpoints can precede the entries.
        var sizes = Enumerable.Range(1, count / 100_000).Select(k => (long)k * 100_000).Append(count).Distinct().ToList();
        var roots = new List<byte[]>();
        var range = new CompactRange();
        for (long i = 0; i < count; i++)
        {
            range.Append(Entry(i).LeafHash());
            if (sizes.Contains(range.Size))
            {
                roots.Add(range.Root());
            }
        }

        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        using var writer = new AuditBundleWriter(file);
        writer.WriteHeader(Origin, count);
        writer.WriteKey(NoteVerifier.For(Origin, key.PublicKey));
        for (var c = 0; c < sizes.Count; c++)
        {
            writer.WriteCheckpoint(new Checkpoint(Origin, sizes[c], roots[c]).Sign(Origin, key).ToString());
        }
        for (long i = 0; i < count; i++)
        {
            var entry = Entry(i);
            writer.WriteEntry(entry, entry.LeafHash());
        }
        writer.WriteEnd(count);
    }
}
