using System.Diagnostics;
using Dapper;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Data.Sqlite;

namespace InfoBank.Bench;

/// <summary>
/// The yardstick: a plain Dapper loop inserting 200-byte rows into a file-backed SQLite database in
/// WAL mode with the server's pragmas, 1,000 rows per transaction. No encryption, no validation, no
/// HTTP: what the disk and SQLite can do on this machine, so later figures can be read as a ratio.
/// </summary>
public sealed class BaselineInsertBenchmark : IBenchmark
{
    public const int PayloadBytes = 200;
    public const int BatchSize = 1_000;

    public string Name => "baseline";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext context)
    {
        var rows = context.Quick ? 20_000 : 100_000;
        var rowsPerSecond = await Measure.MedianAsync(3, _ => Task.FromResult(InsertRun(context.NewDatabasePath("baseline"), rows)));
        context.BaselineRowsPerSecond = rowsPerSecond;
        var results = new List<BenchResult>
        {
            new($"raw Dapper+SQLite insert, {PayloadBytes} B rows, batches of {BatchSize:N0}", rowsPerSecond, "rows/s"),
        };
        if (context.PostgresAdmin is not null)
        {
            var postgres = await Measure.MedianAsync(3, async _ => await InsertRunPostgres(await context.NewPostgresDatabaseAsync("baseline"), rows));
            results.Add(new($"raw Dapper+PostgreSQL insert, {PayloadBytes} B rows, batches of {BatchSize:N0}", postgres, "rows/s",
                Note: "ratio is to the SQLite baseline"));
        }
        return results;
    }

    private static async Task<double> InsertRunPostgres(string connectionString, int rows)
    {
        await using var connection = new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await connection.ExecuteAsync("CREATE TABLE rows (id BIGSERIAL PRIMARY KEY, source_ref TEXT NOT NULL, payload BYTEA NOT NULL)");
        var payload = new byte[PayloadBytes];
        Random.Shared.NextBytes(payload);
        var batch = Enumerable.Range(0, BatchSize).Select(i => new { source_ref = $"src-{i}", payload }).ToArray();

        var watch = Stopwatch.StartNew();
        for (var done = 0; done < rows; done += BatchSize)
        {
            await using var transaction = await connection.BeginTransactionAsync();
            await connection.ExecuteAsync("INSERT INTO rows (source_ref, payload) VALUES (@source_ref, @payload)", batch, transaction);
            await transaction.CommitAsync();
        }
        watch.Stop();
        return Measure.PerSecond(rows, watch);
    }

    private static double InsertRun(string path, int rows)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        connection.Execute("PRAGMA journal_mode = WAL;");
        connection.Execute(DbConnectionFactory.SqlitePragmas(10_000));
        connection.Execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, source_ref TEXT NOT NULL, payload BLOB NOT NULL)");

        var payload = new byte[PayloadBytes];
        Random.Shared.NextBytes(payload);
        var batch = Enumerable.Range(0, BatchSize).Select(i => new { source_ref = $"src-{i}", payload }).ToArray();

        var watch = Stopwatch.StartNew();
        for (var done = 0; done < rows; done += BatchSize)
        {
            using var transaction = connection.BeginTransaction();
            connection.Execute("INSERT INTO rows (source_ref, payload) VALUES (@source_ref, @payload)", batch, transaction);
            transaction.Commit();
        }
        watch.Stop();
        connection.Close();
        SqliteConnection.ClearAllPools();
        File.Delete(path);
        return Measure.PerSecond(rows, watch);
    }
}
