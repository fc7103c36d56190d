using System.Data.Common;
using Dapper;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace InfoBank.Server.Infrastructure.Health;

public static class HealthSetup
{
    /// <summary>Longest a readiness probe may take; past it the node reports not ready rather than hang its caller.</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(15);

    public static IServiceCollection AddInfoBankHealthChecks(this IServiceCollection services)
    {
        services.AddSingleton<DatabaseWriteProbe>();
        services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"], timeout: ProbeTimeout);
        return services;
    }
}

/// <summary>
/// Ready means the database takes a durable write, not only that it answers: a full disk, a
/// read-only file, mount or transaction, or a standby answer <c>SELECT 1</c> and refuse every change.
/// Live only means the process serves requests.
/// </summary>
public sealed partial class DatabaseHealthCheck(DatabaseWriteProbe probe, ILogger<DatabaseHealthCheck> logger) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var failure = await probe.ProbeAsync(cancellationToken);
        if (failure is null)
        {
            return HealthCheckResult.Healthy("database took a durable write");
        }
        LogUnready(logger, failure);
        return HealthCheckResult.Unhealthy($"database write failed ({failure})");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Readiness: the database did not take the probe write ({Failure})")]
    private static partial void LogUnready(ILogger logger, string failure);
}

/// <summary>
/// Commits one row (<c>health_probe</c>, migration 10). Probes within a second share one write,
/// so an anonymous caller polling readiness cannot turn it into a stream of commits competing with
/// the real ones (SQLite has one writer).
/// </summary>
public sealed class DatabaseWriteProbe(DbConnectionFactory db, TimeProvider time)
{
    private static readonly TimeSpan Reuse = TimeSpan.FromSeconds(1);

    private const string Touch = "UPDATE health_probe SET probed_at = @now, probes = probes + 1 WHERE id = 1";
    private const string Seed = "INSERT INTO health_probe (id, probed_at, probes) VALUES (1, @now, 1)";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private long _probedAt;
    private string? _failure;
    private bool _probed;

    /// <summary>Null when the write committed; otherwise what failed (an error code or exception type, never a message).</summary>
    public async Task<string?> ProbeAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_probed && time.GetElapsedTime(_probedAt) < Reuse)
            {
                return _failure;
            }
            _failure = await WriteAsync(cancellationToken);
            _probedAt = time.GetTimestamp();
            _probed = true;
            return _failure;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<string?> WriteAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await db.OpenAsync(cancellationToken);
            var now = time.GetUtcNow();
            if (await connection.ExecuteAsync(new CommandDefinition(Touch, new { now }, cancellationToken: cancellationToken)) == 0)
            {
                // The row was deleted by hand; put it back rather than report a healthy database as broken.
                await connection.ExecuteAsync(new CommandDefinition(Seed, new { now }, cancellationToken: cancellationToken));
            }
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Exception text may hold a connection string or a host name: report the code or the type only.
            return StorageFailures.Classify(ex)?.Code ?? (ex is DbException other ? $"{other.GetType().Name} {other.ErrorCode}" : ex.GetType().Name);
        }
    }
}
