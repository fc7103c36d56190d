using InfoBank.Core.Audit;
using InfoBank.Server.Infrastructure.Db;

namespace InfoBank.Server.Features.Audit;

/// <summary>
/// The one append-only, tamper-evident log every feature writes into (consent events, access
/// decisions, committee actions, key events, sign-ins, erasure). The rule it keeps for every
/// feature: <b>audit before effect</b> — no change takes effect or is acknowledged before its
/// audit entry is durable, and every event is audited exactly once, in causal order.
/// <list type="bullet">
/// <item><see cref="CommitAsync{T}"/> is for changes: the change runs inside the log's own
/// transaction and its entries are appended in the same commit, so the change and its record
/// become durable together or not at all (a crash can lose neither one alone).</item>
/// <item><see cref="AppendAsync"/> is for events that change no stored state of ours (a sign-in, a
/// refusal, a token issued): it returns once the entry is durable, before the caller answers.</item>
/// </list>
/// </summary>
public interface IAuditLog
{
    /// <summary>Appends one entry on its own; returns once it is durable.</summary>
    Task<AuditAppended> AppendAsync(AuditEntryDraft entry, CancellationToken cancellationToken = default);

    /// <summary>
    /// Runs <paramref name="change"/> in the log's next transaction, with the frontier locked, and
    /// commits its writes (through <see cref="AuditScope.Db"/>) with the entries it appends
    /// (<see cref="AuditScope.Append"/>). Returns the change's result once both are durable. If the
    /// change throws, nothing it did is kept and the exception is rethrown to the caller. Inside the
    /// change, read and write only through the scope's session (other connections do not see it and,
    /// on SQLite, would wait for its lock), and never call this log again.
    /// </summary>
    Task<T> CommitAsync<T>(Func<AuditScope, CancellationToken, Task<T>> change, CancellationToken cancellationToken = default);
}

/// <summary>
/// What a change running in <see cref="IAuditLog.CommitAsync{T}"/> sees: the transaction to write in,
/// the time of every entry it appends, and the append itself.
/// </summary>
public abstract class AuditScope
{
    /// <summary>The log's transaction: every write of the change goes here.</summary>
    public abstract DbSession Db { get; }

    /// <summary>The time every entry of this commit carries; use it as the change's own time so both agree.</summary>
    public abstract DateTimeOffset Now { get; }

    /// <summary>
    /// Adds an entry to this commit and says where it will land (sequence and time; its leaf is
    /// computed at the commit, once the residents it names have their pseudonyms). Valid only if the
    /// change completes: a change that throws takes its entries with it.
    /// </summary>
    public abstract AuditPosition Append(AuditEntryDraft entry);

    /// <summary>
    /// Destroys the resident's audit pseudonym when this commit is written, after every entry of the
    /// commit has used it (erasure): from then on the log names them by nothing anyone can follow back.
    /// </summary>
    public abstract void RetirePseudonym(Guid residentId);

    /// <summary>
    /// Undoes everything the change wrote and appended, and still returns its result to the caller:
    /// for a change that finds, after writing, that it must refuse.
    /// </summary>
    public abstract void Abandon();
}

/// <summary>
/// What a feature records. The log never names a resident in clear: the writer replaces
/// <paramref name="SubjectRef"/>, a <c>resident:{id}</c> actor and <paramref name="Residents"/> by
/// the resident's audit pseudonym (random, kept only in <c>resident_audit_pseudonyms</c>, destroyed
/// at erasure). <paramref name="Payload"/> must hold no personal data and no resident id; anything
/// personal that must be kept goes in <paramref name="SealedPersonalData"/>, already encrypted
/// under the resident's data key, so erasure leaves the log verifiable.
/// </summary>
/// <param name="Kind">A constant from <see cref="AuditKinds"/>.</param>
/// <param name="Actor">Who acted: <c>resident:{id}</c> (written as <c>resident:{pseudonym}</c>), <c>client:{clientId}</c>, <c>committee:{id}</c>, <c>system</c>.</param>
/// <param name="SubjectRef">The resident whose data it concerns, by internal id (written as their pseudonym), if anyone's.</param>
/// <param name="Purpose">Purpose code, where relevant.</param>
/// <param name="GrantId">The committee grant, where relevant.</param>
/// <param name="PolicyHash">Content hash of the policy/PIA rule files behind a decision.</param>
/// <param name="Payload">Small JSON-serialisable object with the event's details (reasons, items, ids).</param>
/// <param name="SealedPersonalData">Ciphertext under the subject's data key, or null.</param>
/// <param name="Residents">Residents the event concerns besides the subject (an access that provided many), by internal id:
/// written into the payload as <c>residents</c>, a list of their pseudonyms, in this order. The payload must then be a JSON object.</param>
public sealed record AuditEntryDraft(
    string Kind,
    string Actor,
    string? SubjectRef = null,
    string? Purpose = null,
    Guid? GrantId = null,
    string? PolicyHash = null,
    object? Payload = null,
    byte[]? SealedPersonalData = null,
    IReadOnlyList<Guid>? Residents = null);

/// <summary>Where an entry appended inside a change will land: its sequence number and time.</summary>
public sealed record AuditPosition(long Sequence, DateTimeOffset Time);

/// <summary>Where the entry landed: its sequence number (leaf index), time and RFC 9162 leaf hash.</summary>
public sealed record AuditAppended(long Sequence, DateTimeOffset Time, byte[] LeafHash);
