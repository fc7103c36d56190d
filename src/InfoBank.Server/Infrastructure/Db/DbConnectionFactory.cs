using System.Data.Common;
using Dapper;
using InfoBank.Server.Infrastructure.Crypto;
using Microsoft.Data.SqlClient;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Npgsql;

namespace InfoBank.Server.Infrastructure.Db;

/// <summary>Opens connections to the configured database, ready for use (pragmas applied on SQLite).</summary>
public sealed class DbConnectionFactory
{
    private readonly DatabaseOptions _options;
    private readonly string _connectionString;

    static DbConnectionFactory()
    {
        // Every store reads snake_case columns into PascalCase members by name (observed_at into
        // ObservedAt), so SQL names a column only to rename it; Dapper's setting is process-wide.
        DefaultTypeMap.MatchNamesWithUnderscores = true;
    }

    public DbConnectionFactory(IOptions<DatabaseOptions> options)
    {
        _options = options.Value;
        Dialect = SqlDialect.For(_options.Provider);
        _connectionString = _options.Provider == DatabaseProvider.Sqlite
            ? PrepareSqlite(_options.ConnectionString)
            : _options.ConnectionString;
    }

    public SqlDialect Dialect { get; }

    public DatabaseProvider Provider => _options.Provider;

    public string ConnectionString => _connectionString;

    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        var connection = Create();
        try
        {
            await connection.OpenAsync(cancellationToken);
            if (Provider == DatabaseProvider.Sqlite)
            {
                await using var pragma = connection.CreateCommand();
                pragma.CommandText = SqlitePragmas(_options.BusyTimeoutMilliseconds);
                await pragma.ExecuteNonQueryAsync(cancellationToken);
            }
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Synchronous open, for the few framework callbacks that are synchronous (DataProtection's key repository).</summary>
    public DbConnection Open()
    {
        var connection = Create();
        try
        {
            connection.Open();
            if (Provider == DatabaseProvider.Sqlite)
            {
                using var pragma = connection.CreateCommand();
                pragma.CommandText = SqlitePragmas(_options.BusyTimeoutMilliseconds);
                pragma.ExecuteNonQuery();
            }
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private DbConnection Create() => Provider switch
    {
        DatabaseProvider.Sqlite => new SqliteConnection(_connectionString),
        DatabaseProvider.Postgres => new NpgsqlConnection(_connectionString),
        DatabaseProvider.SqlServer => new SqlConnection(_connectionString),
        _ => throw new InvalidOperationException($"Unknown database provider {Provider}."),
    };

    // foreign_keys and busy_timeout are per connection in SQLite; synchronous=FULL makes a commit
    // durable on power loss, not only on process crash, which is what "stored" means to a resident.
    internal static string SqlitePragmas(int busyTimeoutMilliseconds) =>
        $"PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {busyTimeoutMilliseconds}; PRAGMA synchronous = FULL;";

    /// <summary>The SQLite file these options name, absolute; null for another database or an in-memory one.</summary>
    public static string? SqliteFileOf(DatabaseOptions options)
    {
        if (options.Provider != DatabaseProvider.Sqlite)
        {
            return null;
        }
        var builder = new SqliteConnectionStringBuilder(options.ConnectionString);
        return IsFile(builder) ? Path.GetFullPath(builder.DataSource) : null;
    }

    /// <summary>Whether the options open SQLite read-only on purpose (<c>Mode=ReadOnly</c>).</summary>
    public static bool IsReadOnlySqlite(DatabaseOptions options) =>
        options.Provider == DatabaseProvider.Sqlite && new SqliteConnectionStringBuilder(options.ConnectionString).Mode == SqliteOpenMode.ReadOnly;

    /// <summary>A SQLite connection string with its file made absolute by <paramref name="resolve"/> (the data directory).</summary>
    public static string ResolveSqliteFile(string connectionString, Func<string, string> resolve)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        if (IsFile(builder))
        {
            builder.DataSource = resolve(builder.DataSource);
        }
        return builder.ToString();
    }

    /// <summary>
    /// Creates an empty database file (which SQLite takes as a new database) readable by the owner
    /// only from its first byte, in a folder created owner-only; SQLite gives the -wal and -shm files
    /// it creates beside it the same mode. Returns false when the file already existed.
    /// </summary>
    public static bool CreateSqliteFile(string path) => SecretFile.CreateEmptyOwnerOnly(Path.GetFullPath(path));

    private static bool IsFile(SqliteConnectionStringBuilder builder) =>
        builder.Mode != SqliteOpenMode.Memory
        && !string.IsNullOrEmpty(builder.DataSource)
        && builder.DataSource != ":memory:"
        && !builder.DataSource.StartsWith("file:", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Connections open the file read-write but never create it: only the migrator does (with the
    /// right mode). A file that is missing while the server runs is a lost volume or a wrong path,
    /// and quietly starting a new empty database there would hide that behind "no such table".
    /// </summary>
    private static string PrepareSqlite(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        if (IsFile(builder) && builder.Mode == SqliteOpenMode.ReadWriteCreate)
        {
            builder.Mode = SqliteOpenMode.ReadWrite;
        }
        return builder.ToString();
    }
}
