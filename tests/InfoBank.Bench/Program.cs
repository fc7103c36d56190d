using System.Globalization;
using InfoBank.Bench;

var quick = args.Contains("--quick");
// --only takes one benchmark name or several separated by commas.
var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault()?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

var work = Path.Combine(Path.GetTempPath(), "infobank-bench");
Directory.CreateDirectory(work);
var db = args.SkipWhile(a => a != "--db").Skip(1).FirstOrDefault() ?? "sqlite";
if (db is not ("sqlite" or "postgres"))
{
    throw new ArgumentException($"--db {db}: the bench measures on sqlite (always) and postgres.");
}
var postgres = db == "postgres"
    ? Environment.GetEnvironmentVariable("INFOBANK_TEST_POSTGRES") ?? throw new InvalidOperationException("--db postgres needs INFOBANK_TEST_POSTGRES (scripts/bench.sh starts a cluster).")
    : null;
var context = new BenchContext { Quick = quick, WorkDirectory = work, PostgresAdmin = postgres };

// The baseline always runs first: every other figure is reported as a ratio to it.
IBenchmark[] benchmarks =
[
    new BaselineInsertBenchmark(),
    new AuditBenchmark(),
    new AuditScalingBenchmark(),
    new DepositBenchmark(),
    new ErasureBenchmark(),
    new ConsentDecisionBenchmark(),
    new ConsentHttpBenchmark(),
    new AssessmentBenchmark(),
    new AccessAggregateBenchmark(),
    new AccessRecordsBenchmark(),
    new RetentionBenchmark(),
];

var durability = postgres is null ? null : await context.PostgresDurabilityAsync();
var results = new List<(BenchResult Result, double? Ratio)>();
foreach (var benchmark in benchmarks)
{
    if (only is not null && !only.Contains(benchmark.Name) && benchmark is not BaselineInsertBenchmark)
    {
        continue;
    }
    Console.Error.WriteLine($"running {benchmark.Name} …");
    foreach (var result in await benchmark.RunAsync(context))
    {
        results.Add((result, RatioToBaseline(result)));
    }
}
if (postgres is not null)
{
    await context.DropPostgresDatabasesAsync();
}

Console.WriteLine();
Console.WriteLine($"InfoBank benchmarks — {Environment.ProcessorCount} cores, .NET {Environment.Version}, {(quick ? "quick" : "full")} run, databases: {string.Join(" + ", context.Databases)}");
Console.WriteLine($"load average at the end: {LoadAverage()}");
if (durability is not null)
{
    // Durability is the product: a deposit or audit entry acknowledged is on disk, on either database.
    Console.WriteLine($"PostgreSQL settings: {durability} — commits are durable (fsync and synchronous_commit on), as in production.");
}
Console.WriteLine();
Console.WriteLine("| benchmark | database | figure | unit | ratio to baseline | note |");
Console.WriteLine("|---|---|---:|---|---:|---|");
foreach (var (result, ratio) in results)
{
    Console.WriteLine($"| {result.Name} | {result.Database} | {Measure.Format(result.Value)} | {result.Unit} | {RatioText(ratio)} | {result.Note} |");
}

// Figures measured on both databases, side by side, each with the ratio to its own database's raw insert.
var pairs = results
    .Where(r => r.Result.Unit.EndsWith("/s", StringComparison.Ordinal) || r.Result.Unit == "ms")
    .GroupBy(r => (r.Result.Name, r.Result.Unit))
    .Where(g => g.Any(r => r.Result.Database == BenchDatabase.Sqlite) && g.Any(r => r.Result.Database == BenchDatabase.Postgres))
    .ToList();
if (pairs.Count > 0)
{
    Console.WriteLine();
    Console.WriteLine("SQLite and PostgreSQL side by side (ratios are to each database's own raw-insert baseline):");
    Console.WriteLine();
    Console.WriteLine("| benchmark | unit | SQLite | ratio | PostgreSQL | ratio | PostgreSQL ÷ SQLite |");
    Console.WriteLine("|---|---|---:|---:|---:|---:|---:|");
    foreach (var pair in pairs)
    {
        var sqlite = pair.First(r => r.Result.Database == BenchDatabase.Sqlite);
        var pg = pair.First(r => r.Result.Database == BenchDatabase.Postgres);
        Console.WriteLine($"| {pair.Key.Name} | {pair.Key.Unit} | {Measure.Format(sqlite.Result.Value)} | {RatioText(sqlite.Ratio)} | " +
            $"{Measure.Format(pg.Result.Value)} | {RatioText(pg.Ratio)} | {(pg.Result.Value / sqlite.Result.Value).ToString("0.00", CultureInfo.InvariantCulture)} |");
    }
}

double? RatioToBaseline(BenchResult result) =>
    result.Unit is "rows/s" or "records/s" or "appends/s" && context.BaselineFor(result.Database) > 0
        ? result.Value / context.BaselineFor(result.Database)
        : null;

static string RatioText(double? ratio) => ratio is { } r ? r.ToString("0.00", CultureInfo.InvariantCulture) : "";

static string LoadAverage() =>
    File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
