namespace InfoBank.Server.Features.Custody;

/// <summary>
/// Something another feature must do when a resident erases themselves, before their keys are
/// destroyed (consent withdraws every active consent, so no recipient keeps a live permission for a
/// person the bank no longer holds). Steps must be idempotent: an erasure that fails after a step
/// ran is retried by the resident and runs every step again.
/// </summary>
public interface IResidentErasureStep
{
    Task BeforeErasureAsync(Guid residentId, CancellationToken cancellationToken);
}
