using InfoBank.Server.Infrastructure.Db;
using Microsoft.AspNetCore.Diagnostics;

namespace InfoBank.Server.Infrastructure.Errors;

/// <summary>
/// Storage trouble is not a bug in the request: lock contention the database could not resolve in
/// time (the transaction rolled back whole), and storage that cannot take a change now (disk full,
/// read-only file, folder or transaction, a lost connection, I/O errors) on every database and in
/// the data folder. Both answer 503 with Retry-After and the storage-unavailable problem type, so a
/// client retries instead of reporting a server bug; the log names the database's error code.
/// </summary>
internal sealed partial class StorageExceptionHandler(IProblemDetailsService problems, ILogger<StorageExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (StorageFailures.Classify(exception) is not { } failure)
        {
            return false;
        }
        string detail;
        if (failure.Kind == StorageFailureKind.Contention)
        {
            LogBusy(logger, failure.Code, failure.ExceptionType);
            detail = "The database is busy; nothing was changed. Retry the request shortly.";
        }
        else
        {
            // The route pattern, not the path: paths carry ids.
            LogUnavailable(logger, failure.Code, failure.ExceptionType, context.Request.Method, (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "(no route)");
            detail = "The storage cannot take changes right now (full, read-only or unreachable). Retry the request after the number of seconds in Retry-After.";
        }
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = failure.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = ProblemTypes.StorageUnavailable.ToDetails(detail),
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database contention ({Code}, {ExceptionType}); answered 503 with Retry-After")]
    private static partial void LogBusy(ILogger logger, string code, string exceptionType);

    [LoggerMessage(Level = LogLevel.Error, Message = "Storage unavailable ({Code}, {ExceptionType}) during {Method} {Route}; answered 503 with Retry-After")]
    private static partial void LogUnavailable(ILogger logger, string code, string exceptionType, string method, string route);
}
