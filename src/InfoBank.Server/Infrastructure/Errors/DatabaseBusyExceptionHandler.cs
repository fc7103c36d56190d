using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Data.SqlClient;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace InfoBank.Server.Infrastructure.Errors;

/// <summary>
/// Lock contention the database could not resolve in time (SQLite's busy timeout ran out, a
/// PostgreSQL or SQL Server deadlock victim or lock timeout) is overload, not a bug: the
/// transaction rolled back whole, so the client gets a 503 with Retry-After and may simply retry.
/// </summary>
internal sealed partial class DatabaseBusyExceptionHandler(IProblemDetailsService problems, ILogger<DatabaseBusyExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsContention(exception))
        {
            return false;
        }
        LogBusy(logger, exception.GetType().Name);
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = "1";
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Busy",
                Detail = "The database is busy; nothing was changed. Retry the request shortly.",
            },
        });
    }

    internal static bool IsContention(Exception exception) => exception switch
    {
        // SQLITE_BUSY (5) and SQLITE_LOCKED (6), including their extended codes.
        SqliteException sqlite => (sqlite.SqliteErrorCode & 0xFF) is 5 or 6,
        // serialization_failure, deadlock_detected, lock_not_available
        PostgresException postgres => postgres.SqlState is "40001" or "40P01" or "55P03",
        // deadlock victim, lock request time-out
        SqlException sqlServer => sqlServer.Number is 1205 or 1222,
        _ => exception.InnerException is { } inner && IsContention(inner),
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database contention ({ExceptionType}); answered 503 with Retry-After")]
    private static partial void LogBusy(ILogger logger, string exceptionType);
}
