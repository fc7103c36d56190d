namespace InfoBank.Server.Features.Custody;

/// <summary>
/// Something another feature must do when a resident erases themselves (consent withdraws every
/// active consent, so no recipient keeps a live permission for a person the bank no longer holds).
/// Each step runs before the keys are destroyed and once more right after, to catch what another
/// session of the resident did in between; so steps must be idempotent, which also lets a failed
/// erasure simply be retried.
/// </summary>
public interface IResidentErasureStep
{
    Task ApplyAsync(Guid residentId, CancellationToken cancellationToken);
}
