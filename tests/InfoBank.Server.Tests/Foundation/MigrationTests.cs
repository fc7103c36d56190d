using Dapper;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Tests.Foundation;

public sealed class MigrationTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"infobank-migrate-{Guid.NewGuid():N}.db");

    private Migrator NewMigrator() => new(
        Options.Create(new DatabaseOptions { Provider = DatabaseProvider.Sqlite, ConnectionString = $"Data Source={_path}" }),
        NullLogger<Migrator>.Instance);

    [Fact]
    public void Fresh_database_gets_every_script_in_order()
    {
        var applied = NewMigrator().Migrate();
        Assert.Equal(Migrator.ScriptNames(DatabaseProvider.Sqlite), applied);
        Assert.NotEmpty(applied);
    }

    [Fact]
    public void Migrating_twice_changes_nothing()
    {
        NewMigrator().Migrate();
        var before = Schema();
        var second = NewMigrator().Migrate();
        Assert.Empty(second);
        Assert.Equal(before, Schema());
    }

    [Fact]
    public void Sqlite_database_runs_in_wal_mode()
    {
        NewMigrator().Migrate();
        using var connection = new SqliteConnection($"Data Source={_path}");
        Assert.Equal("wal", connection.ExecuteScalar<string>("PRAGMA journal_mode"));
    }

    [Fact]
    public void Every_database_folder_has_the_same_script_names()
    {
        var sqlite = Migrator.ScriptNames(DatabaseProvider.Sqlite);
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

    private List<string> Schema()
    {
        using var connection = new SqliteConnection($"Data Source={_path}");
        return connection.Query<string>("SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master ORDER BY type, name").ToList();
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }
    }
}
