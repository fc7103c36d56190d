namespace InfoBank.Core.Consent;

/// <summary>
/// Consent states, named as in the W3C Data Privacy Vocabulary. Only <see cref="ConsentGiven"/>
/// permits anything; every other state is final: a resident who wants to consent again gives a new
/// consent (a new id) to the offer's current notice.
/// </summary>
public enum ConsentState
{
    /// <summary>The resident agreed to the offer's notice, and nothing has ended it yet.</summary>
    ConsentGiven,

    /// <summary>The resident withdrew it.</summary>
    ConsentWithdrawn,

    /// <summary>Its validity ended (the offer's window closed).</summary>
    ConsentExpired,

    /// <summary>The ethics committee revoked the grant behind the offer.</summary>
    ConsentRevoked,

    /// <summary>The offer's notice changed; the resident must consent again to the new version.</summary>
    ConsentInvalidated,
}

/// <summary>Whether an offer can be consented to and used.</summary>
public enum OfferStatus
{
    Active,

    /// <summary>The committee suspended the grant: no new consents, no access; consents stay and resume with it.</summary>
    Suspended,

    /// <summary>The grant was revoked (or the offer withdrawn): final; its consents are <see cref="ConsentState.ConsentRevoked"/>.</summary>
    Revoked,
}

/// <summary>
/// An offer as the consent ledger sees it: the current notice version of an approved grant.
/// </summary>
public sealed record OfferTerms(Guid OfferId, Guid GrantId, OfferStatus Status, int NoticeVersion, string NoticeHash, Notice Notice);

/// <summary>
/// One event of the append-only ledger of a (resident, offer) pair. <see cref="Type"/> is the state
/// the consent enters. Items, explicitly named special-care items and the expiry are set on
/// <see cref="ConsentState.ConsentGiven"/> only. <see cref="Sequence"/> is the ledger position once stored.
/// </summary>
public sealed record ConsentEvent(
    Guid ConsentId,
    Guid SubjectId,
    Guid OfferId,
    ConsentState Type,
    DateTimeOffset At,
    int NoticeVersion,
    string Actor,
    IReadOnlyList<string> Items,
    IReadOnlyList<string> ExplicitItems,
    DateTimeOffset? ExpiresAt,
    long Sequence = 0);

/// <summary>The projected current state of one consent, rebuilt from its events.</summary>
public sealed record ConsentRecord(
    Guid ConsentId,
    Guid SubjectId,
    Guid OfferId,
    int NoticeVersion,
    IReadOnlyList<string> Items,
    IReadOnlyList<string> ExplicitItems,
    ConsentState State,
    DateTimeOffset GivenAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset? EndedAt,
    long LastSequence)
{
    public bool IsActive => State == ConsentState.ConsentGiven;
}

/// <summary>An event that does not follow from the state it is applied to (the ledger refuses it).</summary>
public sealed class ConsentTransitionException(string message) : InvalidOperationException(message);

/// <summary>
/// The consent state machine. <see cref="Apply"/> is the only way a state changes; the stored
/// projection and <see cref="Project"/> over the full event history must always agree.
/// </summary>
public static class ConsentLedger
{
    /// <summary>Applies one event to the consent's current record (null before its first event).</summary>
    public static ConsentRecord Apply(ConsentRecord? current, ConsentEvent e)
    {
        if (e.Type == ConsentState.ConsentGiven)
        {
            if (current is not null)
            {
                throw new ConsentTransitionException($"Consent {e.ConsentId} already exists; a consent is given once.");
            }
            if (e.ExpiresAt is not { } expires)
            {
                throw new ConsentTransitionException($"Consent {e.ConsentId} is given without an expiry.");
            }
            return new ConsentRecord(e.ConsentId, e.SubjectId, e.OfferId, e.NoticeVersion, e.Items, e.ExplicitItems,
                ConsentState.ConsentGiven, e.At, expires, null, e.Sequence);
        }
        if (current is null)
        {
            throw new ConsentTransitionException($"Consent {e.ConsentId} has no ConsentGiven event before {e.Type}.");
        }
        if (current.SubjectId != e.SubjectId || current.OfferId != e.OfferId)
        {
            throw new ConsentTransitionException($"Event for consent {e.ConsentId} names another resident or offer.");
        }
        if (!current.IsActive)
        {
            throw new ConsentTransitionException($"Consent {e.ConsentId} is already {current.State}; it cannot become {e.Type}.");
        }
        return current with { State = e.Type, EndedAt = e.At, LastSequence = e.Sequence };
    }

    /// <summary>
    /// Rebuilds every consent from the full history, in ledger order, and checks the ledger-wide
    /// invariant: at most one active consent per (resident, offer).
    /// </summary>
    public static IReadOnlyDictionary<Guid, ConsentRecord> Project(IEnumerable<ConsentEvent> events)
    {
        var records = new Dictionary<Guid, ConsentRecord>();
        var active = new Dictionary<(Guid, Guid), Guid>();
        foreach (var e in events)
        {
            records.TryGetValue(e.ConsentId, out var current);
            var next = Apply(current, e);
            records[e.ConsentId] = next;
            var pair = (next.SubjectId, next.OfferId);
            if (next.IsActive)
            {
                if (!active.TryAdd(pair, next.ConsentId))
                {
                    throw new ConsentTransitionException($"Resident has two active consents to offer {next.OfferId}.");
                }
            }
            else if (active.TryGetValue(pair, out var id) && id == next.ConsentId)
            {
                active.Remove(pair);
            }
        }
        return records;
    }
}
