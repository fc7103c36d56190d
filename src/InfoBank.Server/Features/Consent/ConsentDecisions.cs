using InfoBank.Core.Consent;
using InfoBank.Server.Infrastructure.Db;

namespace InfoBank.Server.Features.Consent;

/// <summary>
/// The Access feature's one question to the consent ledger: may this recipient receive these items
/// of this resident for this purpose now? Reads the resident's relevant consents and the offers'
/// current terms fresh from the database on every call (there is deliberately no cache, so a
/// withdrawal, suspension or revocation counts from the very next request) and hands them to
/// <see cref="ConsentDecider.Decide"/>, with the current time for expiry.
/// </summary>
public sealed class ConsentDecisions(ConsentStore store, TimeProvider time)
{
    public async Task<ConsentDecision> DecideAsync(DecisionRequest request, CancellationToken cancellationToken = default)
    {
        var snapshot = await store.Db.ReadAsync(s => store.SnapshotAsync(s, request.SubjectId, request.RecipientClientId, request.PurposeCode), cancellationToken);
        return ConsentDecider.Decide(request, time.GetUtcNow(), snapshot);
    }

    /// <summary>
    /// The same decision for many residents at once (Access: one page's candidates, or everyone in a
    /// weekly release), from one query read fresh now: <paramref name="request"/> with each of
    /// <paramref name="subjects"/> as the subject. The subjects must be in the database's id order
    /// (as Access reads them); the query covers the range from the first to the last, so a subject
    /// out of order can only be denied, never wrongly allowed.
    /// </summary>
    public async Task<IReadOnlyDictionary<Guid, ConsentDecision>> DecideManyAsync(DecisionRequest request, IReadOnlyList<Guid> subjects, CancellationToken cancellationToken = default)
    {
        var decisions = new Dictionary<Guid, ConsentDecision>(subjects.Count);
        if (subjects.Count == 0)
        {
            return decisions;
        }
        var snapshots = await store.Db.ReadAsync(
            s => store.SnapshotRangeAsync(s, request.RecipientClientId, request.PurposeCode, request.GrantId, subjects[0], subjects[^1]), cancellationToken);
        var now = time.GetUtcNow();
        foreach (var subject in subjects)
        {
            decisions[subject] = ConsentDecider.Decide(request with { SubjectId = subject }, now, snapshots[subject]);
        }
        return decisions;
    }

    /// <summary>
    /// Which observations each of <paramref name="subjects"/> consented to provide through the grant's
    /// offer (<see cref="ConsentWindows.Periods"/>, clipped to <paramref name="outer"/>), from one query
    /// over all their consents to it in any state, read fresh now. The look-back is the one stated by the
    /// notice the resident's first consent was given under. The subjects must be in the database's id
    /// order, as for <see cref="DecideManyAsync"/>: one out of order gets no periods, so nothing is provided.
    /// </summary>
    public async Task<IReadOnlyDictionary<Guid, IReadOnlyList<ConsentedPeriod>>> PeriodsManyAsync(
        Guid grantId, IReadOnlyList<Guid> subjects, TimeRange outer, CancellationToken cancellationToken = default)
    {
        var periods = new Dictionary<Guid, IReadOnlyList<ConsentedPeriod>>(subjects.Count);
        if (subjects.Count == 0)
        {
            return periods;
        }
        var history = await store.Db.ReadAsync(s => store.HistoryRangeAsync(s, grantId, subjects[0], subjects[^1]), cancellationToken);
        var now = time.GetUtcNow();
        foreach (var subject in subjects)
        {
            var consents = history[subject].ToList();
            var first = consents.OrderBy(c => c.Consent.GivenAt).ThenBy(c => c.Consent.ConsentId).FirstOrDefault();
            periods[subject] = first is null ? [] : ConsentWindows.Periods(consents.Select(c => c.Consent), first.LookbackDays, outer, now);
        }
        return periods;
    }
}
