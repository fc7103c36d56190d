using System.Globalization;
using InfoBank.Bench;

var quick = args.Contains("--quick");
var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();

var work = Path.Combine(Path.GetTempPath(), "infobank-bench");
Directory.CreateDirectory(work);
var db = args.SkipWhile(a => a != "--db").Skip(1).FirstOrDefault() ?? "sqlite";
var postgres = db == "postgres"
    ? Environment.GetEnvironmentVariable("INFOBANK_TEST_POSTGRES") ?? throw new InvalidOperationException("--db postgres needs INFOBANK_TEST_POSTGRES (scripts/bench.sh starts a cluster).")
    : null;
var context = new BenchContext { Quick = quick, WorkDirectory = work, PostgresAdmin = postgres };

// The baseline always runs first: every other figure is reported as a ratio to it.
IBenchmark[] benchmarks =
[
    new BaselineInsertBenchmark(),
    new AuditBenchmark(),
    new DepositBenchmark(),
    new ErasureBenchmark(),
    new ConsentDecisionBenchmark(),
    new ConsentHttpBenchmark(),
    new AssessmentBenchmark(),
    new AccessAggregateBenchmark(),
    new AccessRecordsBenchmark(),
];

var results = new List<(BenchResult Result, double? Ratio)>();
foreach (var benchmark in benchmarks)
{
    if (only is not null && benchmark.Name != only && benchmark is not BaselineInsertBenchmark)
    {
        continue;
    }
    Console.Error.WriteLine($"running {benchmark.Name} …");
    foreach (var result in await benchmark.RunAsync(context))
    {
        double? ratio = result.Unit is "rows/s" or "records/s" or "appends/s" && context.BaselineRowsPerSecond > 0
            ? result.Value / context.BaselineRowsPerSecond
            : null;
        results.Add((result, ratio));
    }
}

Console.WriteLine();
Console.WriteLine($"InfoBank benchmarks — {Environment.ProcessorCount} cores, .NET {Environment.Version}, {(quick ? "quick" : "full")} run, databases: sqlite{(postgres is null ? "" : " + postgres")}");
Console.WriteLine();
Console.WriteLine("| benchmark | figure | unit | ratio to baseline | note |");
Console.WriteLine("|---|---:|---|---:|---|");
foreach (var (result, ratio) in results)
{
    var ratioText = ratio is { } r ? r.ToString("0.00", CultureInfo.InvariantCulture) : "";
    Console.WriteLine($"| {result.Name} | {Measure.Format(result.Value)} | {result.Unit} | {ratioText} | {result.Note} |");
}
