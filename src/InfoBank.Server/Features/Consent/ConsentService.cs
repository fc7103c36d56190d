using InfoBank.Core.Consent;

namespace InfoBank.Server.Features.Consent;

/// <summary>A consent as the resident sees it: its state, the offer's notice it was given to, and what changed since if the notice moved on.</summary>
public sealed record ConsentView(ConsentRecord Consent, OfferTerms Offer, Notice Notice, string NoticeHash, IReadOnlyList<NoticeChange> ChangesSinceConsent);

/// <summary>
/// The resident's side of the ledger: give, withdraw, list, receipts; and the expiry job. Each
/// command reads the current state and appends its event in one transaction, then writes the audit
/// entry before returning, so the resident's answer is backed by a durable audit record.
/// </summary>
public sealed partial class ConsentService(
    ConsentStore store, ConsentAuditor auditor, ConsentReceipts receipts, TimeProvider time, ILogger<ConsentService> logger)
{
    /// <summary>Gives consent to one offer at its current notice version; the refusal says why not.</summary>
    public async Task<(ConsentView? View, ConsentRefusal? Refusal)> GiveAsync(Guid subjectId, GiveConsent request, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        ConsentEvent stored;
        OfferTerms offer;
        await using (var connection = await store.Connections.OpenAsync(cancellationToken))
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var found = await store.FindOfferAsync(connection, transaction, request.OfferId);
            var active = found is null ? null : await store.FindActiveConsentAsync(connection, transaction, subjectId, found.OfferId);
            var (e, refusal) = ConsentCommands.Give(subjectId, found, active, request, Guid.CreateVersion7(now), now);
            if (e is null)
            {
                return (null, refusal);
            }
            offer = found!;
            if (!await store.LockOpenOfferAsync(connection, transaction, offer.OfferId, offer.NoticeVersion))
            {
                return (null, new ConsentRefusal(ConsentRefusalKind.Conflict, $"Offer {offer.OfferId} changed while you were consenting; read it again."));
            }
            var sequence = await store.AppendAsync(connection, transaction, e, ConsentLedger.Apply(null, e));
            await transaction.CommitAsync(cancellationToken);
            stored = e with { Sequence = sequence };
        }
        await auditor.RecordAsync(stored, offer, offer.NoticeHash, cancellationToken);
        LogEvent(logger, stored.ConsentId, stored.Type);
        var record = ConsentLedger.Apply(null, stored);
        return (new ConsentView(record, offer, offer.Notice, offer.NoticeHash, []), null);
    }

    /// <summary>Withdraws one of the resident's own active consents. Effective for the very next decision.</summary>
    public async Task<(ConsentView? View, ConsentRefusal? Refusal)> WithdrawAsync(Guid subjectId, Guid consentId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        ConsentEvent stored;
        ConsentRecord next;
        await using (var connection = await store.Connections.OpenAsync(cancellationToken))
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var consent = await store.FindConsentAsync(connection, transaction, consentId);
            var (e, refusal) = ConsentCommands.Withdraw(subjectId, consent, consentId, now);
            if (e is null)
            {
                return (null, refusal);
            }
            next = ConsentLedger.Apply(consent, e);
            var sequence = await store.AppendAsync(connection, transaction, e, next);
            await transaction.CommitAsync(cancellationToken);
            stored = e with { Sequence = sequence };
            next = next with { LastSequence = sequence };
        }
        var view = await ViewAsync(next, cancellationToken);
        await auditor.RecordAsync(stored, view.Offer, view.NoticeHash, cancellationToken);
        LogEvent(logger, stored.ConsentId, stored.Type);
        return (view, null);
    }

    /// <summary>
    /// Withdraws every consent of the resident that is still active (the erasure path). Each is an
    /// ordinary withdrawal: its own ledger event, audit entry and receipt history. A consent that
    /// ends concurrently (withdrawn, expired, revoked) is simply skipped. Returns how many it withdrew.
    /// </summary>
    public async Task<int> WithdrawAllAsync(Guid subjectId, CancellationToken cancellationToken)
    {
        IReadOnlyList<ConsentRecord> consents;
        await using (var connection = await store.Connections.OpenAsync(cancellationToken))
        {
            consents = await store.ListConsentsAsync(connection, subjectId);
        }
        var withdrawn = 0;
        foreach (var consent in consents.Where(c => c.IsActive))
        {
            var (view, _) = await WithdrawAsync(subjectId, consent.ConsentId, cancellationToken);
            withdrawn += view is null ? 0 : 1;
        }
        return withdrawn;
    }

    /// <summary>Every consent of the resident, current and past, newest first.</summary>
    public async Task<IReadOnlyList<ConsentView>> ListAsync(Guid subjectId, CancellationToken cancellationToken)
    {
        await using var connection = await store.Connections.OpenAsync(cancellationToken);
        var views = new List<ConsentView>();
        var offers = new Dictionary<Guid, OfferTerms>();
        foreach (var consent in await store.ListConsentsAsync(connection, subjectId))
        {
            views.Add(await ViewAsync(connection, consent, offers));
        }
        return views;
    }

    /// <summary>One of the resident's consents; null when it does not exist or is someone else's.</summary>
    public async Task<ConsentView?> FindAsync(Guid subjectId, Guid consentId, CancellationToken cancellationToken)
    {
        await using var connection = await store.Connections.OpenAsync(cancellationToken);
        var consent = await store.FindConsentAsync(connection, null, consentId);
        return consent is null || consent.SubjectId != subjectId ? null : await ViewAsync(connection, consent, []);
    }

    /// <summary>The signed receipt of one of the resident's consents, reflecting its full history; null if not theirs.</summary>
    public async Task<SignedReceipt?> ReceiptAsync(Guid subjectId, Guid consentId, CancellationToken cancellationToken)
    {
        ConsentReceipt receipt;
        await using (var connection = await store.Connections.OpenAsync(cancellationToken))
        {
            var consent = await store.FindConsentAsync(connection, null, consentId);
            if (consent is null || consent.SubjectId != subjectId)
            {
                return null;
            }
            var view = await ViewAsync(connection, consent, []);
            var events = await store.ListEventsAsync(connection, consentId);
            var audits = await store.AuditSequencesAsync(connection, consentId);
            receipt = ConsentReceipts.Build(consent, view.Offer, view.Notice, view.NoticeHash, events, audits, receipts.Controller);
        }
        return await receipts.SignAsync(receipt, cancellationToken);
    }

    /// <summary>
    /// The expiry job: every active consent past its validity becomes ConsentExpired. Idempotent
    /// (a second run finds none). Decisions already deny expired consents by time, so the job only
    /// brings the ledger up to date. Also audits any event an interrupted command left unaudited.
    /// </summary>
    public async Task<int> ExpireDueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var expired = 0;
        while (true)
        {
            IReadOnlyList<ConsentRecord> due;
            await using (var connection = await store.Connections.OpenAsync(cancellationToken))
            {
                due = await store.ListDueForExpiryAsync(connection, now, 500);
            }
            if (due.Count == 0)
            {
                break;
            }
            var progressed = 0;
            foreach (var candidate in due)
            {
                if (await ExpireOneAsync(candidate.ConsentId, now, cancellationToken))
                {
                    progressed++;
                }
            }
            expired += progressed;
            if (progressed == 0)
            {
                break;
            }
        }
        await auditor.FlushOutboxAsync(now.AddMinutes(-1), cancellationToken);
        if (expired > 0)
        {
            LogExpired(logger, expired);
        }
        return expired;
    }

    private async Task<bool> ExpireOneAsync(Guid consentId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ConsentEvent stored;
        await using (var connection = await store.Connections.OpenAsync(cancellationToken))
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var consent = await store.FindConsentAsync(connection, transaction, consentId);
            if (consent is null || ConsentCommands.Expire(consent, now) is not { } e)
            {
                return false;
            }
            var sequence = await store.AppendAsync(connection, transaction, e, ConsentLedger.Apply(consent, e));
            await transaction.CommitAsync(cancellationToken);
            stored = e with { Sequence = sequence };
        }
        await using (var connection = await store.Connections.OpenAsync(cancellationToken))
        {
            var offer = await store.FindOfferAsync(connection, null, stored.OfferId);
            var versions = await store.ListNoticeVersionsAsync(connection, stored.OfferId);
            var hash = versions.FirstOrDefault(v => v.Version == stored.NoticeVersion)?.Hash ?? offer!.NoticeHash;
            await auditor.RecordAsync(stored, offer!, hash, cancellationToken);
        }
        return true;
    }

    private async Task<ConsentView> ViewAsync(ConsentRecord consent, CancellationToken cancellationToken)
    {
        await using var connection = await store.Connections.OpenAsync(cancellationToken);
        return await ViewAsync(connection, consent, []);
    }

    private async Task<ConsentView> ViewAsync(System.Data.Common.DbConnection connection, ConsentRecord consent, Dictionary<Guid, OfferTerms> offers)
    {
        if (!offers.TryGetValue(consent.OfferId, out var offer))
        {
            offer = await store.FindOfferAsync(connection, null, consent.OfferId)
                ?? throw new InvalidOperationException($"Consent {consent.ConsentId} refers to a missing offer.");
            offers[consent.OfferId] = offer;
        }
        if (consent.NoticeVersion == offer.NoticeVersion)
        {
            return new ConsentView(consent, offer, offer.Notice, offer.NoticeHash, []);
        }
        var notice = await store.FindNoticeAsync(connection, offer.OfferId, consent.NoticeVersion)
            ?? throw new InvalidOperationException($"Notice version {consent.NoticeVersion} of offer {offer.OfferId} is missing.");
        return new ConsentView(consent, offer, notice, NoticeCanonical.Hash(notice), NoticeCanonical.Diff(notice, offer.Notice));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Consent {ConsentId} recorded {State}")]
    private static partial void LogEvent(ILogger logger, Guid consentId, ConsentState state);

    [LoggerMessage(Level = LogLevel.Information, Message = "Expiry job moved {Count} consent(s) to ConsentExpired")]
    private static partial void LogExpired(ILogger logger, int count);
}
