using Dapper;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Infrastructure.Health;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>The readiness write on each database: it commits on a writable one and names the failure on a read-only one.</summary>
public abstract class HealthProbeStoreTests<TFixture>(TFixture database) : StoreTestBase<TFixture>(database)
    where TFixture : DatabaseFixture
{
    /// <summary>A connection string to the same database whose every transaction is read-only.</summary>
    protected abstract string ReadOnly(string connectionString);

    protected abstract string ReadOnlyCode { get; }

    [SkippableFact]
    public async Task The_probe_commits_a_write_on_a_writable_database()
    {
        long Probes()
        {
            using var connection = Database.Connections.Open();
            return connection.ExecuteScalar<long>("SELECT probes FROM health_probe WHERE id = 1");
        }
        var before = Probes();
        Assert.Null(await new DatabaseWriteProbe(Database.Connections, TimeProvider.System).ProbeAsync(default));
        Assert.Equal(before + 1, Probes());
    }

    [SkippableFact]
    public async Task The_probe_fails_with_the_read_only_code_on_a_read_only_connection()
    {
        var options = new DatabaseOptions { Provider = Database.Provider, ConnectionString = ReadOnly(Database.ConnectionString) };
        var readOnly = new DbConnectionFactory(Microsoft.Extensions.Options.Options.Create(options));
        Assert.Equal(ReadOnlyCode, await new DatabaseWriteProbe(readOnly, TimeProvider.System).ProbeAsync(default));
    }
}

public sealed class SqliteHealthProbeStoreTests(SqliteFixture database) : HealthProbeStoreTests<SqliteFixture>(database)
{
    protected override string ReadOnly(string connectionString) =>
        new SqliteConnectionStringBuilder(connectionString) { Mode = SqliteOpenMode.ReadOnly }.ToString();

    protected override string ReadOnlyCode => "SQLITE_READONLY";
}

public sealed class PostgresHealthProbeStoreTests(PostgresFixture database) : HealthProbeStoreTests<PostgresFixture>(database)
{
    protected override string ReadOnly(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Options = "-c default_transaction_read_only=on" }.ToString();

    protected override string ReadOnlyCode => "SQLSTATE 25006";
}
