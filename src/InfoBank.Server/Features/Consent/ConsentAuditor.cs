using InfoBank.Core.Consent;
using InfoBank.Server.Features.Audit;

namespace InfoBank.Server.Features.Consent;

/// <summary>
/// Writes each consent event into the audit log and records where it landed (receipts cite that
/// sequence). Events are queued in an outbox in the same transaction that appends them, so an event
/// whose audit append failed (crash, timeout) is appended later by <see cref="FlushOutboxAsync"/>.
/// </summary>
public sealed class ConsentAuditor(ConsentStore store, IAuditLog audit)
{
    private const int Parallelism = 64;

    public static string KindOf(ConsentState type) => type switch
    {
        ConsentState.ConsentGiven => AuditKinds.ConsentGiven,
        ConsentState.ConsentWithdrawn => AuditKinds.ConsentWithdrawn,
        ConsentState.ConsentExpired => AuditKinds.ConsentExpired,
        ConsentState.ConsentRevoked => AuditKinds.ConsentRevoked,
        ConsentState.ConsentInvalidated => AuditKinds.ConsentInvalidated,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>Appends the audit entry of one stored event; returns once it is durable, with its audit sequence.</summary>
    public async Task<long> RecordAsync(ConsentEvent e, OfferTerms offer, string noticeHash, CancellationToken cancellationToken)
    {
        var appended = await audit.AppendAsync(new AuditEntryDraft(
            KindOf(e.Type),
            e.Actor,
            SubjectRef: e.SubjectId.ToString("D"),
            Purpose: offer.Notice.PurposeCode,
            GrantId: offer.GrantId,
            Payload: new
            {
                consentId = e.ConsentId,
                offerId = e.OfferId,
                eventSequence = e.Sequence,
                state = e.Type.ToString(),
                recipient = offer.Notice.Recipient.ClientId,
                noticeVersion = e.NoticeVersion,
                noticeHash,
                items = e.Items,
                explicitItems = e.ExplicitItems,
                expiresAt = e.ExpiresAt,
            }), cancellationToken);
        await store.LinkAuditAsync(e.Sequence, appended.Sequence, cancellationToken);
        return appended.Sequence;
    }

    /// <summary>Audits many events of one offer (a revocation or a new notice version), several in flight so the log can batch them.</summary>
    public async Task RecordManyAsync(IReadOnlyList<ConsentEvent> events, OfferTerms offer, Func<int, string> noticeHashOf, CancellationToken cancellationToken)
    {
        foreach (var chunk in events.Chunk(Parallelism))
        {
            await Task.WhenAll(chunk.Select(e => RecordAsync(e, offer, noticeHashOf(e.NoticeVersion), cancellationToken)));
        }
    }

    /// <summary>
    /// Audits events left in the outbox by an interrupted command, if they are older than
    /// <paramref name="olderThan"/> (younger ones may still be in their command's hands). Returns how
    /// many it appended; a second run finds nothing to do.
    /// </summary>
    public async Task<int> FlushOutboxAsync(DateTimeOffset olderThan, CancellationToken cancellationToken)
    {
        var done = 0;
        await using var connection = await store.Connections.OpenAsync(cancellationToken);
        var pending = await store.ListUnauditedAsync(connection, olderThan, 10_000);
        foreach (var sequence in pending)
        {
            var e = await store.FindEventAsync(connection, sequence);
            var offer = e is null ? null : await store.FindOfferAsync(connection, null, e.OfferId);
            if (e is null || offer is null)
            {
                continue;
            }
            var versions = await store.ListNoticeVersionsAsync(connection, e.OfferId);
            var hash = versions.FirstOrDefault(v => v.Version == e.NoticeVersion)?.Hash ?? offer.NoticeHash;
            await RecordAsync(e, offer, hash, cancellationToken);
            done++;
        }
        return done;
    }
}
