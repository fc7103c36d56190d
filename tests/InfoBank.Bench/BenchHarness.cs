using System.Diagnostics;
using System.Globalization;

namespace InfoBank.Bench;

/// <summary>One line of the final table.</summary>
public sealed record BenchResult(string Name, double Value, string Unit, bool HigherIsBetter = true, string Note = "");

/// <summary>Settings shared by all benchmarks in one run.</summary>
public sealed class BenchContext
{
    public required bool Quick { get; init; }

    public required string WorkDirectory { get; init; }

    /// <summary>Rows/s of the raw Dapper+SQLite insert, measured first; every throughput figure is compared to it.</summary>
    public double BaselineRowsPerSecond { get; set; }

    public string NewDatabasePath(string name) => Path.Combine(WorkDirectory, $"{name}-{Guid.NewGuid():N}.db");

    /// <summary>
    /// Admin connection string of a PostgreSQL server when the run was asked for <c>--db postgres</c>
    /// (scripts/bench.sh starts a throwaway cluster); benchmarks that support it report a second
    /// figure on PostgreSQL beside SQLite's.
    /// </summary>
    public string? PostgresAdmin { get; init; }

    /// <summary>Creates an empty PostgreSQL database for one benchmark run and returns its connection string.</summary>
    public async Task<string> NewPostgresDatabaseAsync(string name)
    {
        var admin = PostgresAdmin ?? throw new InvalidOperationException("No PostgreSQL configured for this run.");
        var database = $"bench_{name}_{Guid.NewGuid():N}";
        await using (var connection = new Npgsql.NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = $"CREATE DATABASE {database}";
            await command.ExecuteNonQueryAsync();
        }
        return new Npgsql.NpgsqlConnectionStringBuilder(admin) { Database = database }.ToString();
    }
}

public interface IBenchmark
{
    string Name { get; }

    Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext context);
}

public static class Measure
{
    /// <summary>Runs <paramref name="trial"/> several times and keeps the median, which shrugs off one slow trial on a shared machine.</summary>
    public static async Task<double> MedianAsync(int trials, Func<int, Task<double>> trial)
    {
        var values = new List<double>();
        for (var i = 0; i < trials; i++)
        {
            values.Add(await trial(i));
        }
        values.Sort();
        return values[values.Count / 2];
    }

    public static double PerSecond(long count, Stopwatch watch) => count / watch.Elapsed.TotalSeconds;

    public static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    public static string Format(double value) => value >= 100
        ? value.ToString("N0", CultureInfo.InvariantCulture)
        : value.ToString("0.###", CultureInfo.InvariantCulture);
}
