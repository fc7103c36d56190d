using Dapper;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Data.SqlClient;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace InfoBank.Server.Tests.Infrastructure;

/// <summary>
/// A fresh, migrated database of one provider for one test class. Store tests are written once in
/// an abstract class taking a fixture, with one sealed subclass per provider (as Dapper's own tests
/// do). SQLite always runs; PostgreSQL runs when <c>INFOBANK_TEST_POSTGRES</c> holds an admin
/// connection string (scripts/test.sh starts a throwaway cluster and sets it); SQL Server when
/// <c>INFOBANK_TEST_SQLSERVER</c> does. Otherwise their tests are reported as skipped, unless
/// <c>INFOBANK_REQUIRE_POSTGRES=1</c> (CI) turns a missing PostgreSQL into a failure.
/// </summary>
public abstract class DatabaseFixture : IAsyncLifetime
{
    public abstract DatabaseProvider Provider { get; }

    /// <summary>Why this provider's tests are skipped here, or null when it is available.</summary>
    public string? SkipReason { get; protected set; }

    public string ConnectionString { get; protected set; } = "";

    public DatabaseOptions Options => new() { Provider = Provider, ConnectionString = ConnectionString };

    public DbConnectionFactory Connections => new(Microsoft.Extensions.Options.Options.Create(Options));

    public Migrator NewMigrator() => new(Microsoft.Extensions.Options.Options.Create(Options), NullLogger<Migrator>.Instance);

    /// <summary>Create an empty database; <see cref="InitializeAsync"/> migrates it unless <see cref="Migrate"/> is false.</summary>
    protected abstract Task CreateAsync();

    protected abstract Task DropAsync();

    protected virtual bool Migrate => true;

    public async Task InitializeAsync()
    {
        SqliteTypeHandlers.Register();
        await CreateAsync();
        if (SkipReason is null && Migrate)
        {
            NewMigrator().Migrate();
        }
    }

    public async Task DisposeAsync()
    {
        if (SkipReason is null)
        {
            await DropAsync();
        }
    }

    protected static string UniqueName() => $"infobank_test_{Guid.NewGuid():N}";

    protected static string? Required(string variable, string provider)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(value) && provider == "PostgreSQL" && Environment.GetEnvironmentVariable("INFOBANK_REQUIRE_POSTGRES") == "1")
        {
            throw new InvalidOperationException($"{variable} is not set but INFOBANK_REQUIRE_POSTGRES=1: PostgreSQL tests must run here.");
        }
        return string.IsNullOrWhiteSpace(value) ? null : value;
    }
}

public class SqliteFixture : DatabaseFixture
{
    private string _path = "";

    public override DatabaseProvider Provider => DatabaseProvider.Sqlite;

    protected override Task CreateAsync()
    {
        _path = Path.Combine(Path.GetTempPath(), $"{UniqueName()}.db");
        ConnectionString = $"Data Source={_path}";
        return Task.CompletedTask;
    }

    protected override Task DropAsync()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }
        return Task.CompletedTask;
    }
}

public class PostgresFixture : DatabaseFixture
{
    private string _admin = "";
    private string _name = "";

    public override DatabaseProvider Provider => DatabaseProvider.Postgres;

    protected override async Task CreateAsync()
    {
        var admin = Required("INFOBANK_TEST_POSTGRES", "PostgreSQL");
        if (admin is null)
        {
            SkipReason = "PostgreSQL not configured: set INFOBANK_TEST_POSTGRES (scripts/test.sh starts one).";
            return;
        }
        _admin = admin;
        _name = UniqueName();
        await using (var connection = new NpgsqlConnection(_admin))
        {
            await connection.ExecuteAsync($"CREATE DATABASE {_name}");
        }
        ConnectionString = new NpgsqlConnectionStringBuilder(_admin) { Database = _name }.ToString();
    }

    protected override async Task DropAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(_admin);
        await connection.ExecuteAsync($"DROP DATABASE IF EXISTS {_name} WITH (FORCE)");
    }
}

public class SqlServerFixture : DatabaseFixture
{
    private string _admin = "";
    private string _name = "";

    public override DatabaseProvider Provider => DatabaseProvider.SqlServer;

    protected override async Task CreateAsync()
    {
        var admin = Required("INFOBANK_TEST_SQLSERVER", "SQL Server");
        if (admin is null)
        {
            SkipReason = "SQL Server not configured: set INFOBANK_TEST_SQLSERVER to run these tests.";
            return;
        }
        _admin = admin;
        _name = UniqueName();
        await using (var connection = new SqlConnection(_admin))
        {
            await connection.ExecuteAsync($"CREATE DATABASE [{_name}]");
        }
        ConnectionString = new SqlConnectionStringBuilder(_admin) { InitialCatalog = _name }.ToString();
    }

    protected override async Task DropAsync()
    {
        SqlConnection.ClearAllPools();
        await using var connection = new SqlConnection(_admin);
        await connection.ExecuteAsync($"ALTER DATABASE [{_name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE [{_name}]");
    }
}

/// <summary>Fixtures that leave the database empty, for tests of the migrator itself.</summary>
public sealed class EmptySqliteFixture : SqliteFixture
{
    protected override bool Migrate => false;
}

public sealed class EmptyPostgresFixture : PostgresFixture
{
    protected override bool Migrate => false;
}

public sealed class EmptySqlServerFixture : SqlServerFixture
{
    protected override bool Migrate => false;
}

/// <summary>
/// Base of every per-provider store test class: skips (rather than fails) when the provider is not
/// configured on this machine. Test methods use <c>[SkippableFact]</c>.
/// </summary>
public abstract class StoreTestBase<TFixture> : IClassFixture<TFixture>
    where TFixture : DatabaseFixture
{
    protected StoreTestBase(TFixture database)
    {
        Database = database;
        Skip.If(database.SkipReason is not null, database.SkipReason);
    }

    protected TFixture Database { get; }
}
