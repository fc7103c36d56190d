using System.Reflection;
using DbUp;
using DbUp.Builder;
using DbUp.Engine.Output;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Infrastructure.Db;

/// <summary>
/// Applies the embedded SQL scripts of the configured database's folder
/// (<c>Infrastructure/Db/Migrations/&lt;provider&gt;/</c>), in file-name order, recording each in
/// DbUp's journal so that running again is a no-op. Scripts never roll back: a change is a new script.
/// </summary>
public sealed partial class Migrator(IOptions<DatabaseOptions> options, ILogger<Migrator> logger)
{
    public static readonly Assembly ScriptAssembly = typeof(Migrator).Assembly;

    public static string FolderOf(DatabaseProvider provider) => provider switch
    {
        DatabaseProvider.Sqlite => "sqlite",
        DatabaseProvider.Postgres => "postgres",
        DatabaseProvider.SqlServer => "sqlserver",
        _ => throw new ArgumentOutOfRangeException(nameof(provider)),
    };

    /// <summary>Embedded script file names for one provider, in the order they apply.</summary>
    public static IReadOnlyList<string> ScriptNames(DatabaseProvider provider)
    {
        var marker = $".Migrations.{FolderOf(provider)}.";
        return ScriptAssembly.GetManifestResourceNames()
            .Where(n => n.Contains(marker, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n => n[(n.IndexOf(marker, StringComparison.Ordinal) + marker.Length)..])
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Applies what is pending and returns the names of the scripts it ran.</summary>
    public IReadOnlyList<string> Migrate()
    {
        var db = options.Value;
        var connectionString = new DbConnectionFactory(options).ConnectionString;
        var marker = $".Migrations.{FolderOf(db.Provider)}.";
        if (DbConnectionFactory.SqliteFileOf(db) is { } file && DbConnectionFactory.CreateSqliteFile(file))
        {
            LogCreated(logger, file);
        }

        UpgradeEngineBuilder builder;
        switch (db.Provider)
        {
            case DatabaseProvider.Sqlite:
                EnableWal(connectionString);
                builder = DeployChanges.To.SqliteDatabase(connectionString);
                break;
            case DatabaseProvider.Postgres:
                builder = DeployChanges.To.PostgresqlDatabase(connectionString);
                break;
            case DatabaseProvider.SqlServer:
                builder = DeployChanges.To.SqlDatabase(connectionString);
                break;
            default:
                throw new InvalidOperationException($"Unknown database provider {db.Provider}.");
        }

        var engine = builder
            .WithScriptsEmbeddedInAssembly(ScriptAssembly, name => name.Contains(marker, StringComparison.Ordinal))
            .WithTransactionPerScript()
            .LogTo(new UpgradeLog(logger))
            .Build();

        var result = engine.PerformUpgrade();
        if (!result.Successful)
        {
            throw new InvalidOperationException(
                $"Database migration failed in script {result.ErrorScript?.Name ?? "(none)"}: {result.Error?.Message}", result.Error);
        }
        var applied = result.Scripts.Select(s => s.Name[(s.Name.IndexOf(marker, StringComparison.Ordinal) + marker.Length)..]).ToList();
        LogMigrated(logger, db.Provider, applied.Count);
        return applied;
    }

    // WAL lets readers proceed while the single writer commits; the mode is stored in the file.
    private static void EnableWal(string connectionString)
    {
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode = WAL;";
        command.ExecuteNonQuery();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created the SQLite database {File} (owner-only)")]
    private static partial void LogCreated(ILogger logger, string file);

    [LoggerMessage(Level = LogLevel.Information, Message = "Database {Provider} migrated: {Count} script(s) applied")]
    private static partial void LogMigrated(ILogger logger, DatabaseProvider provider, int count);

    private sealed class UpgradeLog(ILogger logger) : IUpgradeLog
    {
        // DbUp formats its own messages; they name scripts, never data.
#pragma warning disable CA2254 // Template should be a static expression
        public void LogTrace(string format, params object[] args) => logger.LogTrace(format, args);

        public void LogDebug(string format, params object[] args) => logger.LogDebug(format, args);

        public void LogInformation(string format, params object[] args) => logger.LogDebug(format, args);

        public void LogWarning(string format, params object[] args) => logger.LogWarning(format, args);

        public void LogError(string format, params object[] args) => logger.LogError(format, args);

        public void LogError(Exception ex, string format, params object[] args) => logger.LogError(ex, format, args);
#pragma warning restore CA2254
    }
}
