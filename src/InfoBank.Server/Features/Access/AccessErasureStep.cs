using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Custody;

namespace InfoBank.Server.Features.Access;

/// <summary>
/// An erased resident's passbook goes: it is their own view of who received their data, and no
/// one is left to read it. What the law keeps of each provision (APPI Art. 29: when, to whom,
/// which items) is the access log, which names no resident, and the access's audit entry, which
/// names them only by the audit pseudonym this erasure destroys.
/// </summary>
public sealed class AccessErasureStep : IResidentErasureStep
{
    public string Effect => "passbook-deleted";

    public Task ApplyAsync(AuditScope scope, Guid residentId) => AccessStore.DeleteProvisionsAsync(scope.Db, residentId);
}
