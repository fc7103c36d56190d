using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Custody;

namespace InfoBank.Server.Features.Consent;

/// <summary>
/// A resident who erases themselves withdraws every active consent, in the erasure's own audited
/// transaction, so the ledger says in so many words that no recipient may receive anything about
/// them any more. The ledger itself is kept: it is the record of what was provided under which
/// consent (APPI Art. 29/30 provision records). It is kept only in a form that no longer leads
/// back to the person: after the withdrawals (whose audit entries still carry the resident's
/// pseudonym, destroyed with the rest of the erasure) their events and consents move to a random
/// subject that nothing else holds.
/// </summary>
public sealed class ConsentErasureStep(ConsentService consents) : IResidentErasureStep
{
    public string Effect => "consents-withdrawn-ledger-pseudonymised";

    public async Task ApplyAsync(AuditScope scope, Guid residentId)
    {
        await consents.WithdrawAllAsync(scope, residentId);
        await ConsentStore.PseudonymiseSubjectAsync(scope.Db, residentId, Guid.NewGuid());
    }
}
