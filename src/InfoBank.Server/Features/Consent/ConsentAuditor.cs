using InfoBank.Core.Audit;
using InfoBank.Core.Consent;
using InfoBank.Server.Features.Audit;

namespace InfoBank.Server.Features.Consent;

/// <summary>
/// Writes each consent event's audit entry in the same transaction as the event itself, and records
/// where it landed (receipts cite that sequence). The event, the projection, the entry and the link
/// commit together, so no consent takes effect before it is audited and none is audited twice.
/// </summary>
public sealed class ConsentAuditor(ConsentStore store)
{
    public static string KindOf(ConsentState type) => type switch
    {
        ConsentState.ConsentGiven => AuditKinds.ConsentGiven,
        ConsentState.ConsentWithdrawn => AuditKinds.ConsentWithdrawn,
        ConsentState.ConsentExpired => AuditKinds.ConsentExpired,
        ConsentState.ConsentRevoked => AuditKinds.ConsentRevoked,
        ConsentState.ConsentInvalidated => AuditKinds.ConsentInvalidated,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>
    /// Appends and stores one event with its audit entry in <paramref name="scope"/>'s transaction.
    /// Returns the event as stored (with its ledger sequence) and the entry's audit sequence.
    /// </summary>
    public async Task<(ConsentEvent Stored, long AuditSequence)> RecordAsync(
        AuditScope scope, ConsentEvent e, ConsentRecord next, OfferTerms offer, string noticeHash)
    {
        var sequence = await store.AppendAsync(scope.Db, e, next);
        var stored = e with { Sequence = sequence };
        var appended = scope.Append(new AuditEntryDraft(
            KindOf(e.Type),
            e.Actor,
            SubjectRef: e.SubjectId.ToString("D"),
            Purpose: offer.Notice.PurposeCode,
            GrantId: offer.GrantId,
            Payload: new
            {
                consentId = e.ConsentId,
                offerId = e.OfferId,
                eventSequence = sequence,
                state = e.Type.ToString(),
                recipient = offer.Notice.Recipient.ClientId,
                noticeVersion = e.NoticeVersion,
                noticeHash,
                items = e.Items,
                explicitItems = e.ExplicitItems,
                expiresAt = e.ExpiresAt,
            }));
        await store.LinkAuditAsync(scope.Db, sequence, appended.Sequence);
        return (stored, appended.Sequence);
    }
}
