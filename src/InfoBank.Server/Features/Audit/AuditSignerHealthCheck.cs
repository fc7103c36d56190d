using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace InfoBank.Server.Features.Audit;

/// <summary>
/// Readiness fails while the checkpoint signer is halted (or cannot read its state): the audit
/// trail is no longer being vouched for, and that must be seen by whoever watches the service.
/// The reason names sequences and hashes only, never entry content.
/// </summary>
public sealed class AuditSignerHealthCheck(ICheckpointSigner signer) : IHealthCheck
{
    public const string Name = "audit-signer";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = await signer.StatusAsync(cancellationToken);
        if (status.Halt is { } halt)
        {
            return HealthCheckResult.Unhealthy(
                $"the audit checkpoint signer is halted since {halt.At:O} ({halt.Code} at sequence {halt.Sequence?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}): {halt.Reason}; details at GET /api/v1/audit/signer");
        }
        return HealthCheckResult.Healthy(status.SignedSize is { } size ? $"last signed tree size {size}" : "nothing signed yet");
    }
}
