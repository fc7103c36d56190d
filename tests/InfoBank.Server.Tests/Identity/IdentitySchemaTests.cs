using Dapper;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Tests.Identity;

/// <summary>
/// OpenIddict's tables come from our migration script, not from EF. If an OpenIddict or EF
/// upgrade changes the model, this fails until a new migration brings the schema along.
/// </summary>
public sealed class IdentitySchemaTests : IDisposable
{
    private readonly string _migrated = Path.Combine(Path.GetTempPath(), $"infobank-schema-m-{Guid.NewGuid():N}.db");
    private readonly string _fromModel = Path.Combine(Path.GetTempPath(), $"infobank-schema-e-{Guid.NewGuid():N}.db");

    [Fact]
    public void Migrated_openiddict_tables_match_the_ef_model()
    {
        new Migrator(
            Options.Create(new DatabaseOptions { Provider = DatabaseProvider.Sqlite, ConnectionString = $"Data Source={_migrated}" }),
            NullLogger<Migrator>.Instance).Migrate();

        var options = new DbContextOptionsBuilder<IdentityDbContext>();
        IdentityDbContext.Configure(options, DatabaseProvider.Sqlite, $"Data Source={_fromModel}");
        using (var context = new IdentityDbContext(options.Options))
        {
            context.Database.EnsureCreated();
        }

        var fromModel = OpenIddictSchema(_fromModel);
        Assert.Equal(10, fromModel.Count); // 4 tables, 6 indexes
        Assert.Equal(fromModel, OpenIddictSchema(_migrated));
    }

    [Fact]
    public void Every_provider_script_creates_the_same_openiddict_objects()
    {
        var names = new Dictionary<DatabaseProvider, List<string>>();
        foreach (var provider in new[] { DatabaseProvider.Sqlite, DatabaseProvider.Postgres, DatabaseProvider.SqlServer })
        {
            var resource = Migrator.ScriptAssembly.GetManifestResourceNames()
                .Single(n => n.EndsWith($".Migrations.{Migrator.FolderOf(provider)}.2026-11-22_02_Identity.sql", StringComparison.Ordinal));
            using var reader = new StreamReader(Migrator.ScriptAssembly.GetManifestResourceStream(resource)!);
            var script = reader.ReadToEnd();
            names[provider] = System.Text.RegularExpressions.Regex.Matches(script, @"CREATE (?:UNIQUE )?(?:TABLE|INDEX) [""\[](\w+)[""\]]")
                .Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal).ToList();
        }
        Assert.Equal(10, names[DatabaseProvider.Sqlite].Count);
        Assert.Equal(names[DatabaseProvider.Sqlite], names[DatabaseProvider.Postgres]);
        Assert.Equal(names[DatabaseProvider.Sqlite], names[DatabaseProvider.SqlServer]);
    }

    private static List<string> OpenIddictSchema(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        return connection.Query<string>(
                "SELECT type || ' ' || name || ': ' || sql FROM sqlite_master WHERE name LIKE '%OpenIddict%' AND sql IS NOT NULL ORDER BY type, name")
            .Select(s => System.Text.RegularExpressions.Regex.Replace(s, @"\s+", " ").Trim())
            .ToList();
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _migrated, _fromModel }.SelectMany(p => new[] { p, p + "-wal", p + "-shm" }))
        {
            File.Delete(file);
        }
    }
}
