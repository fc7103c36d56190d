using System.Diagnostics;
using System.Text;
using Dapper;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;

namespace InfoBank.Bench;

/// <summary>
/// The yardstick: 200-byte rows inserted 1,000 per transaction, with no encryption, validation or
/// HTTP — what the disk and the database can do on this machine, so later figures can be read as a
/// ratio. SQLite: a file in WAL mode with the server's pragmas (synchronous=FULL), one prepared
/// statement executed per row in-process. PostgreSQL: the same rows and batch size as one prepared
/// multi-row INSERT per transaction, so the figure is not a count of network round trips.
/// </summary>
public sealed class BaselineInsertBenchmark : IBenchmark
{
    public const int PayloadBytes = 200;
    public const int BatchSize = 1_000;

    public const string ResultName = "raw insert, 200 B rows, batches of 1,000, one transaction each";

    public string Name => "baseline";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext context)
    {
        var rows = context.Quick ? 20_000 : 100_000;
        var rowsPerSecond = await Measure.MedianAsync(3, _ => Task.FromResult(InsertRun(context.NewDatabasePath("baseline"), rows)));
        context.BaselineRowsPerSecond = rowsPerSecond;
        var results = new List<BenchResult>
        {
            new(ResultName, rowsPerSecond, "rows/s", Note: "Dapper, prepared per-row INSERT, synchronous=FULL, median of 3"),
        };
        if (context.PostgresAdmin is not null)
        {
            var postgres = await Measure.MedianAsync(3, async _ => await InsertRunPostgres(await context.NewPostgresDatabaseAsync("baseline"), rows));
            context.PostgresBaselineRowsPerSecond = postgres;
            results.Add(new(ResultName, postgres, "rows/s", Note: "Npgsql, prepared 1,000-row INSERT, median of 3", Database: BenchDatabase.Postgres));
            // What a store pays when it hands Dapper a list: one statement, and one round trip, per row.
            var perRow = await InsertRunPostgresPerRow(await context.NewPostgresDatabaseAsync("baseline"), rows / 5);
            results.Add(new("insert, one statement per row (Dapper list), batches of 1,000", perRow, "rows/s",
                Note: "for contrast: the round trip per row that a multi-row INSERT avoids", Database: BenchDatabase.Postgres));
        }
        return results;
    }

    private static async Task<double> InsertRunPostgres(string connectionString, int rows)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await connection.ExecuteAsync("CREATE TABLE rows (id BIGSERIAL PRIMARY KEY, source_ref TEXT NOT NULL, payload BYTEA NOT NULL)");
        var payload = new byte[PayloadBytes];
        Random.Shared.NextBytes(payload);

        var sql = new StringBuilder("INSERT INTO rows (source_ref, payload) VALUES ");
        await using var insert = new NpgsqlCommand { Connection = connection };
        for (var i = 0; i < BatchSize; i++)
        {
            sql.Append(i == 0 ? "" : ", ").Append($"(${2 * i + 1}, ${2 * i + 2})");
            insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = $"src-{i}" });
            insert.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea, Value = payload });
        }
        insert.CommandText = sql.ToString();
        await insert.PrepareAsync();

        var watch = Stopwatch.StartNew();
        for (var done = 0; done < rows; done += BatchSize)
        {
            await using var transaction = await connection.BeginTransactionAsync();
            insert.Transaction = transaction;
            await insert.ExecuteNonQueryAsync();
            await transaction.CommitAsync();
        }
        watch.Stop();
        return Measure.PerSecond(rows, watch);
    }

    private static async Task<double> InsertRunPostgresPerRow(string connectionString, int rows)
    {
        await using var connection = new NpgsqlConnection(connectionString);
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
