using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Custody;

namespace InfoBank.Server.Features.Identity;

/// <summary>
/// An erased resident's account becomes a tombstone in the erasure's own transaction: no username
/// of theirs, no display name, no password, no token (<see cref="AccountStore.TombstoneAsync"/>).
/// Only the id is left, so a token issued before the erasure is recognised and refused as an
/// erased account's (<see cref="AuthorizationFailureRecorder"/>) instead of re-creating anything.
/// </summary>
public sealed class IdentityErasureStep : IResidentErasureStep
{
    public string Effect => "account-tombstoned-tokens-revoked";

    public Task ApplyAsync(AuditScope scope, Guid residentId) => AccountStore.TombstoneAsync(scope.Db, residentId);
}
