namespace InfoBank.Core.Audit;

/// <summary>The kinds of audit entry. Names are stable: auditors' tools and the verifier (<see cref="AuditVerifier"/>) match on them.</summary>
public static class AuditKinds
{
    public const string SignInSucceeded = "signin.succeeded";
    public const string SignInFailed = "signin.failed";
    public const string TokenIssued = "token.issued";
    public const string Enrolled = "resident.enrolled";
    public const string SourceLinked = "source.linked";
    public const string SourceUnlinked = "source.unlinked";
    public const string DepositBatch = "deposit.batch";
    public const string RecordsExpired = "records.expired";
    public const string Erasure = "resident.erased";
    public const string KeyRotated = "key.rotated";
    public const string KeyDestroyed = "key.destroyed";
    public const string ConsentGiven = "consent.given";
    public const string ConsentWithdrawn = "consent.withdrawn";
    public const string ConsentExpired = "consent.expired";
    public const string ConsentRevoked = "consent.revoked";
    public const string ConsentInvalidated = "consent.invalidated";
    public const string ApplicationSubmitted = "application.submitted";
    public const string ApplicationAssessed = "application.assessed";
    public const string CommitteeVote = "committee.vote";
    public const string CommitteeDecision = "committee.decision";
    public const string GrantSuspended = "grant.suspended";
    public const string GrantRevoked = "grant.revoked";
    public const string GrantReinstated = "grant.reinstated";
    public const string GrantOfferRepaired = "grant.offer-repaired";
    public const string AccessAllowed = "access.allowed";
    public const string AccessDenied = "access.denied";
}
