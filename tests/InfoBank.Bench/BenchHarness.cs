using System.Diagnostics;
using System.Globalization;

namespace InfoBank.Bench;

/// <summary>
/// One line of the final table. <paramref name="Database"/> names the database the figure was
/// measured on; a figure measured on both databases under the same <paramref name="Name"/> is also
/// shown side by side in the comparison table of a <c>--db postgres</c> run.
/// </summary>
public sealed record BenchResult(string Name, double Value, string Unit, bool HigherIsBetter = true, string Note = "", string Database = BenchDatabase.Sqlite);

/// <summary>The databases a run can measure on, by their display names.</summary>
public static class BenchDatabase
{
    public const string Sqlite = "SQLite";
    public const string Postgres = "PostgreSQL";
}

/// <summary>Settings shared by all benchmarks in one run.</summary>
public sealed class BenchContext
{
    public required bool Quick { get; init; }

    public required string WorkDirectory { get; init; }

    /// <summary>Rows/s of the raw Dapper+SQLite insert, measured first; every SQLite throughput figure is compared to it.</summary>
    public double BaselineRowsPerSecond { get; set; }

    /// <summary>Rows/s of the raw PostgreSQL insert (same rows, same batch size); PostgreSQL figures are compared to it.</summary>
    public double PostgresBaselineRowsPerSecond { get; set; }

    /// <summary>The baseline of the database a figure was measured on.</summary>
    public double BaselineFor(string database) => database == BenchDatabase.Postgres ? PostgresBaselineRowsPerSecond : BaselineRowsPerSecond;

    /// <summary>SQLite always; PostgreSQL too when the run has one.</summary>
    public IReadOnlyList<string> Databases => PostgresAdmin is null ? [BenchDatabase.Sqlite] : [BenchDatabase.Sqlite, BenchDatabase.Postgres];

    public string NewDatabasePath(string name) => Path.Combine(WorkDirectory, $"{name}-{Guid.NewGuid():N}.db");

    /// <summary>
    /// Admin connection string of a PostgreSQL server when the run was asked for <c>--db postgres</c>
    /// (scripts/bench.sh starts a throwaway cluster); benchmarks that support it report a second
    /// figure on PostgreSQL beside SQLite's.
    /// </summary>
    public string? PostgresAdmin { get; init; }

    private readonly List<string> _postgresDatabases = [];

    /// <summary>Creates an empty PostgreSQL database for one benchmark run and returns its connection string.</summary>
    public async Task<string> NewPostgresDatabaseAsync(string name)
    {
        var admin = PostgresAdmin ?? throw new InvalidOperationException("No PostgreSQL configured for this run.");
        var database = $"bench_{name}_{Guid.NewGuid():N}";
        await AdminAsync($"CREATE DATABASE {database}");
        _postgresDatabases.Add(database);
        // Pool sized like a server node's: the deposit and audit paths open a connection per request or batch.
        return new Npgsql.NpgsqlConnectionStringBuilder(admin) { Database = database, MaxPoolSize = 100 }.ToString();
    }

    /// <summary>Drops the databases this run created, so a long-lived server given in INFOBANK_TEST_POSTGRES is left as found.</summary>
    public async Task DropPostgresDatabasesAsync()
    {
        Npgsql.NpgsqlConnection.ClearAllPools();
        foreach (var database in _postgresDatabases)
        {
            await AdminAsync($"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
        }
        _postgresDatabases.Clear();
    }

    /// <summary>The server settings that decide whether a commit is durable, as the server reports them.</summary>
    public async Task<string> PostgresDurabilityAsync()
    {
        var settings = new List<string>();
        foreach (var name in new[] { "fsync", "synchronous_commit", "full_page_writes", "wal_sync_method", "shared_buffers" })
        {
            settings.Add($"{name}={await AdminScalarAsync($"SHOW {name}")}");
        }
        return string.Join(", ", settings);
    }

    private async Task AdminAsync(string sql)
    {
        await using var connection = new Npgsql.NpgsqlConnection(PostgresAdmin);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private async Task<string?> AdminScalarAsync(string sql)
    {
        await using var connection = new Npgsql.NpgsqlConnection(PostgresAdmin);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (await command.ExecuteScalarAsync())?.ToString();
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
