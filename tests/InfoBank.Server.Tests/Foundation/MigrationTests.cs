using System.Data.Common;
using Dapper;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Tests.Infrastructure;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>The migrator against each database: written once, run per provider.</summary>
public abstract class MigrationTests<TFixture>(TFixture database) : StoreTestBase<TFixture>(database)
    where TFixture : DatabaseFixture
{
    [SkippableFact]
    public async Task Fresh_database_gets_every_script_in_order_and_a_second_run_changes_nothing()
    {
        var applied = Database.NewMigrator().Migrate();
        Assert.Equal(Migrator.ScriptNames(Database.Provider), applied);
        var before = await SchemaAsync();

        Assert.Empty(Database.NewMigrator().Migrate());
        Assert.Equal(before, await SchemaAsync());
    }

    private async Task<List<string>> SchemaAsync()
    {
        await using var connection = await Database.Connections.OpenAsync();
        return (await connection.QueryAsync<string>(SchemaQuery(connection))).ToList();
    }

    // Tables and columns as each database reports them; DbUp's own journal is included on purpose.
    private string SchemaQuery(DbConnection connection) => Database.Provider switch
    {
        DatabaseProvider.Sqlite => "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master ORDER BY type, name",
        DatabaseProvider.Postgres => """
            SELECT table_schema || '.' || table_name || '.' || column_name || ' ' || data_type
            FROM information_schema.columns WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
            ORDER BY 1
            """,
        _ => """
            SELECT TABLE_SCHEMA + '.' + TABLE_NAME + '.' + COLUMN_NAME + ' ' + DATA_TYPE
            FROM INFORMATION_SCHEMA.COLUMNS ORDER BY 1
            """,
    };
}

public sealed class SqliteMigrationTests(EmptySqliteFixture database) : MigrationTests<EmptySqliteFixture>(database);

public sealed class SqliteModeTests(SqliteFixture database) : StoreTestBase<SqliteFixture>(database)
{
    [Fact]
    public void Migrated_sqlite_database_runs_in_wal_mode_with_foreign_keys_on()
    {
        using var connection = Database.Connections.Open();
        Assert.Equal("wal", connection.ExecuteScalar<string>("PRAGMA journal_mode"));
        Assert.Equal(1L, connection.ExecuteScalar<long>("PRAGMA foreign_keys"));
    }
}

public sealed class PostgresMigrationTests(EmptyPostgresFixture database) : MigrationTests<EmptyPostgresFixture>(database);

public sealed class SqlServerMigrationTests(EmptySqlServerFixture database) : MigrationTests<EmptySqlServerFixture>(database);

public sealed class MigrationScriptTests
{
    [Fact]
    public void Every_database_folder_has_the_same_script_names()
    {
        var sqlite = Migrator.ScriptNames(DatabaseProvider.Sqlite);
        Assert.NotEmpty(sqlite);
        Assert.Equal(sqlite, Migrator.ScriptNames(DatabaseProvider.Postgres));
        Assert.Equal(sqlite, Migrator.ScriptNames(DatabaseProvider.SqlServer));
    }

    [Fact]
    public void Script_names_are_date_prefixed_so_file_order_is_apply_order()
    {
        foreach (var name in Migrator.ScriptNames(DatabaseProvider.Sqlite))
        {
            Assert.Matches(@"^\d{4}-\d{2}-\d{2}_\d{2}_[A-Za-z]+\.sql$", name);
        }
    }
}
