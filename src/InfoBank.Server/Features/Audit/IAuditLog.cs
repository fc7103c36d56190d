namespace InfoBank.Server.Features.Audit;

/// <summary>
/// The one append-only, tamper-evident log every feature writes into (consent events, access
/// decisions, committee actions, key events, sign-ins, erasure). <see cref="AppendAsync"/> returns
/// only once the entry is durable, so a caller that must be audited can answer its client after it.
/// </summary>
public interface IAuditLog
{
    Task<AuditAppended> AppendAsync(AuditEntryDraft entry, CancellationToken cancellationToken = default);
}

/// <summary>
/// What a feature records. <paramref name="Payload"/> holds no personal data in clear: references
/// are pseudonymous (internal ids), and anything personal goes in <paramref name="SealedPersonalData"/>,
/// already encrypted under the resident's data key, so erasure leaves the log verifiable.
/// </summary>
/// <param name="Kind">A constant from <see cref="AuditKinds"/>.</param>
/// <param name="Actor">Who acted: <c>resident:{id}</c>, <c>client:{clientId}</c>, <c>committee:{id}</c>, <c>system</c>.</param>
/// <param name="SubjectRef">Whose data it concerns (internal resident reference), if anyone's.</param>
/// <param name="Purpose">Purpose code, where relevant.</param>
/// <param name="GrantId">The committee grant, where relevant.</param>
/// <param name="PolicyHash">Content hash of the policy/PIA rule files behind a decision.</param>
/// <param name="Payload">Small JSON-serialisable object with the event's details (reasons, items, ids).</param>
/// <param name="SealedPersonalData">Ciphertext under the subject's data key, or null.</param>
public sealed record AuditEntryDraft(
    string Kind,
    string Actor,
    string? SubjectRef = null,
    string? Purpose = null,
    Guid? GrantId = null,
    string? PolicyHash = null,
    object? Payload = null,
    byte[]? SealedPersonalData = null);

/// <summary>Where the entry landed: its sequence number (leaf index), time and RFC 9162 leaf hash.</summary>
public sealed record AuditAppended(long Sequence, DateTimeOffset Time, byte[] LeafHash);

/// <summary>The kinds of audit entry. Names are stable: auditors' tools and the verifier match on them.</summary>
public static class AuditKinds
{
    public const string SignInSucceeded = "signin.succeeded";
    public const string SignInFailed = "signin.failed";
    public const string TokenIssued = "token.issued";
    public const string Enrolled = "resident.enrolled";
    public const string SourceLinked = "source.linked";
    public const string SourceUnlinked = "source.unlinked";
    public const string DepositBatch = "deposit.batch";
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
