using System.Data.Common;
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

    /// <summary>Creates the folder of a file database so a fresh checkout runs with no set-up.</summary>
    private static string PrepareSqlite(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        if (builder.Mode != SqliteOpenMode.Memory && !string.IsNullOrEmpty(builder.DataSource) && builder.DataSource != ":memory:")
        {
            var directory = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }
        }
        return builder.ToString();
    }
}
