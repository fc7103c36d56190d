using Dapper;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace InfoBank.Server.Infrastructure.Health;

/// <summary>Ready means the database answers a query; live only means the process serves requests.</summary>
public sealed class DatabaseHealthCheck(DbConnectionFactory db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var connection = await db.OpenAsync(cancellationToken);
            await connection.ExecuteScalarAsync<int>(new CommandDefinition("SELECT 1", cancellationToken: cancellationToken));
            return HealthCheckResult.Healthy("database reachable");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The exception text may hold a connection string; report only its type.
            return HealthCheckResult.Unhealthy($"database unreachable ({ex.GetType().Name})");
        }
    }
}
