using Microsoft.Data.SqlClient;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace InfoBank.Server.Infrastructure.Db;

public enum StorageFailureKind
{
    /// <summary>Lock contention the database could not resolve in time; the transaction rolled back whole.</summary>
    Contention,

    /// <summary>The storage cannot take changes now: full, read-only, unreachable or failing I/O.</summary>
    Unavailable,
}

/// <summary>
/// A failure of the storage rather than of the request or the code: <see cref="Code"/> names the
/// database's own error code (never its message, which may quote values or a connection string).
/// </summary>
public sealed record StorageFailure(StorageFailureKind Kind, string Code, string ExceptionType)
{
    /// <summary>Contention clears in a moment; a full disk or a lost server needs an operator or a fail-over.</summary>
    public int RetryAfterSeconds => Kind == StorageFailureKind.Contention ? 1 : 10;
}

/// <summary>
/// Tells storage trouble from bugs, for every database and the data folder, so that each place
/// that meets it (the exception handler, readiness, start-up) answers the same way. Exceptions are
/// searched through their inner exceptions: writers wrap what the driver threw (the audit writer's
/// batch failure, EF Core's <c>DbUpdateException</c>, DataProtection's key-ring errors).
/// </summary>
public static class StorageFailures
{
    public static StorageFailure? Classify(Exception exception) => Classify(exception, depth: 0);

    private static StorageFailure? Classify(Exception exception, int depth)
    {
        if (depth > 16)
        {
            return null;
        }
        if (ClassifyOne(exception) is { } failure)
        {
            return failure;
        }
        if (exception is AggregateException aggregate)
        {
            foreach (var inner in aggregate.InnerExceptions)
            {
                if (Classify(inner, depth + 1) is { } found)
                {
                    return found;
                }
            }
            return null;
        }
        return exception.InnerException is { } next ? Classify(next, depth + 1) : null;
    }

    private static StorageFailure? ClassifyOne(Exception exception) => exception switch
    {
        SqliteException sqlite => Sqlite(sqlite),
        PostgresException postgres => Postgres(postgres),
        // Npgsql's own exceptions (not the server's): a refused or broken connection, a timeout, an
        // exhausted pool. Those it marks transient are the storage being out of reach.
        NpgsqlException { IsTransient: true } npgsql => new(StorageFailureKind.Unavailable, "npgsql-transient", npgsql.GetType().Name),
        SqlException sqlServer => SqlServer(sqlServer),
        // The data folder (keys, secrets, the SQLite file's folder): full, read-only or failing.
        IOException io when IsStorageErrno(io.HResult) => new(StorageFailureKind.Unavailable, $"errno {io.HResult}", io.GetType().Name),
        _ => null,
    };

    private static StorageFailure? Sqlite(SqliteException exception)
    {
        var code = exception.SqliteErrorCode;
        var extended = exception.SqliteExtendedErrorCode;
        var name = (code & 0xFF) switch
        {
            5 => "SQLITE_BUSY",
            6 => "SQLITE_LOCKED",
            7 => "SQLITE_NOMEM",
            8 => "SQLITE_READONLY",
            10 => "SQLITE_IOERR",
            // A damaged file is not a bug in the request either; it needs an operator (restore).
            11 => "SQLITE_CORRUPT",
            13 => "SQLITE_FULL",
            14 => "SQLITE_CANTOPEN",
            26 => "SQLITE_NOTADB",
            _ => null,
        };
        if (name is null)
        {
            return null;
        }
        var kind = (code & 0xFF) is 5 or 6 ? StorageFailureKind.Contention : StorageFailureKind.Unavailable;
        return new(kind, extended != code && extended != 0 ? $"{name} ({extended})" : name, exception.GetType().Name);
    }

    private static StorageFailure? Postgres(PostgresException exception)
    {
        var state = exception.SqlState;
        StorageFailureKind? kind = state switch
        {
            // serialization_failure, deadlock_detected, lock_not_available
            "40001" or "40P01" or "55P03" => StorageFailureKind.Contention,
            // read_only_sql_transaction (a standby, or default_transaction_read_only)
            "25006" => StorageFailureKind.Unavailable,
            // admin_shutdown, crash_shutdown, cannot_connect_now, database_dropped
            "57P01" or "57P02" or "57P03" or "57P04" => StorageFailureKind.Unavailable,
            // system_error, io_error; data_corrupted, index_corrupted
            "58000" or "58030" or "XX001" or "XX002" => StorageFailureKind.Unavailable,
            // class 08 connection exceptions; class 53 insufficient resources (53100 disk_full,
            // 53200 out_of_memory, 53300 too_many_connections)
            _ when state.StartsWith("08", StringComparison.Ordinal) || state.StartsWith("53", StringComparison.Ordinal) => StorageFailureKind.Unavailable,
            _ => null,
        };
        return kind is { } k ? new(k, $"SQLSTATE {state}", exception.GetType().Name) : null;
    }

    private static StorageFailure? SqlServer(SqlException exception)
    {
        foreach (SqlError error in exception.Errors)
        {
            StorageFailureKind? kind = error.Number switch
            {
                // deadlock victim, lock request time-out
                1205 or 1222 => StorageFailureKind.Contention,
                // filegroup full, could not allocate a page, transaction log full
                1101 or 1105 or 9002 => StorageFailureKind.Unavailable,
                // database read-only; availability replica not accessible or read-only intent
                3906 or 976 or 978 or 983 => StorageFailureKind.Unavailable,
                // I/O errors reported by the engine
                823 or 824 or 825 => StorageFailureKind.Unavailable,
                // cannot open the database; Azure SQL unavailable, busy or over its resource limits
                4060 or 40613 or 40197 or 40501 or 10928 or 10929 or 49918 or 49919 or 49920 => StorageFailureKind.Unavailable,
                // network: timeout, not found, transport-level errors, connection reset or refused
                -2 or -1 or 2 or 53 or 64 or 121 or 233 or 10053 or 10054 or 10060 or 10061 or 11001 => StorageFailureKind.Unavailable,
                _ => null,
            };
            if (kind is { } k)
            {
                return new(k, $"SQL Server {error.Number}", exception.GetType().Name);
            }
        }
        return null;
    }

    // On Unix the runtime puts the errno in HResult: ENOSPC, EROFS, EIO, EDQUOT (Linux and BSD/macOS),
    // and EACCES/EPERM for a folder or file made read-only under us. On Windows: disk full,
    // handle disk full, write-protected.
    private static bool IsStorageErrno(int hresult) => OperatingSystem.IsWindows()
        ? hresult is unchecked((int)0x80070070) or unchecked((int)0x80070027) or unchecked((int)0x80070013)
        : hresult is 28 or 30 or 5 or 13 or 1 || (OperatingSystem.IsLinux() ? hresult == 122 : hresult == 69);
}
