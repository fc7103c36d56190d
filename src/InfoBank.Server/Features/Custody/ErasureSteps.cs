using InfoBank.Server.Features.Audit;

namespace InfoBank.Server.Features.Custody;

/// <summary>
/// Something another feature must do when a resident erases themselves (consent withdraws every
/// active consent, so no recipient keeps a live permission for a person the bank no longer holds).
/// Each step runs inside the erasure's own audited transaction, before the keys are destroyed:
/// it writes through <paramref name="scope"/> and appends its own entries there, so the steps and
/// the shred commit together or not at all.
/// </summary>
public interface IResidentErasureStep
{
    /// <summary>What the step does to the resident's data, named in the erasure's audit entry (stable: auditors match on it).</summary>
    string Effect { get; }

    Task ApplyAsync(AuditScope scope, Guid residentId);
}
