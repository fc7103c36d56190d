using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Custody;

namespace InfoBank.Server.Features.Consent;

/// <summary>
/// A resident who erases themselves withdraws every active consent, in the erasure's own audited
/// transaction, so the ledger says in so many words that no recipient may receive anything about
/// them any more. The ledger itself is kept: it is the record of what was provided under which
/// consent (APPI Art. 29/30 provision records).
/// </summary>
public sealed class ConsentErasureStep(ConsentService consents) : IResidentErasureStep
{
    public Task ApplyAsync(AuditScope scope, Guid residentId) => consents.WithdrawAllAsync(scope, residentId);
}
