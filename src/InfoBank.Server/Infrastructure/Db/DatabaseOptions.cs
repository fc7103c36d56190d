using System.ComponentModel.DataAnnotations;

namespace InfoBank.Server.Infrastructure.Db;

public enum DatabaseProvider
{
    Sqlite,
    Postgres,
    SqlServer,
}

/// <summary>Bound from the <c>Database</c> configuration section.</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Database";

    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>
    /// For SQLite, a relative <c>Data Source</c> is a file under the data directory (INFOBANK_DATA /
    /// <c>--data</c>); an absolute one is kept.
    /// </summary>
    [Required]
    public string ConnectionString { get; set; } = "Data Source=infobank.db";

    /// <summary>How long a SQLite writer waits for the lock before giving up.</summary>
    [Range(0, 600_000)]
    public int BusyTimeoutMilliseconds { get; set; } = 10_000;

    /// <summary>Apply pending migrations when the server starts (the CLI's <c>migrate</c> does the same).</summary>
    public bool MigrateOnStart { get; set; } = true;
}
