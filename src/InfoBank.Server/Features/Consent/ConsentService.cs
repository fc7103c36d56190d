using InfoBank.Core.Consent;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Infrastructure.Web;

namespace InfoBank.Server.Features.Consent;

/// <summary>A consent as the resident sees it: its state, the offer's notice it was given to, and what changed since if the notice moved on.</summary>
public sealed record ConsentView(ConsentRecord Consent, OfferTerms Offer, Notice Notice, string NoticeHash, IReadOnlyList<NoticeChange> ChangesSinceConsent);

/// <summary>
/// The resident's side of the ledger: give, withdraw, list, receipts; and the expiry job. Each
/// command runs in the audit log's transaction: it reads the current state, appends its event and
/// the event's audit entry, and all of it commits together before the resident gets an answer.
/// </summary>
public sealed partial class ConsentService(
    ConsentStore store, ConsentAuditor auditor, ConsentReceipts receipts, IAuditLog audit, ILogger<ConsentService> logger)
{
    /// <summary>Gives consent to one offer at its current notice version; the refusal says why not.</summary>
    public async Task<Outcome<ConsentView>> GiveAsync(Guid subjectId, GiveConsent request, CancellationToken cancellationToken)
    {
        Outcome<ConsentView> result;
        try
        {
            result = await audit.CommitAsync<Outcome<ConsentView>>(async (scope, _) =>
            {
                var s = scope.Db;
                // Consent is given by an enrolled resident only: an erased one must not leave a live
                // permission behind, nor one who never agreed to the custody terms.
                if (await CustodyStore.FindResidentAsync(s, subjectId) is not { Status: ResidentStatus.Enrolled })
                {
                    return new ConsentRefusal(ConsentRefusalKind.NotEnrolled,
                        "Enrol first (POST /api/v1/me/enrollment): consent can only be given by a resident who has agreed to the custody terms.").ToRefusal();
                }
                var found = await store.FindOfferAsync(s, request.OfferId);
                var active = found is null ? null : await store.FindActiveConsentAsync(s, subjectId, found.OfferId);
                var (e, refusal) = ConsentCommands.Give(subjectId, found, active, request, Guid.CreateVersion7(scope.Now), scope.Now);
                if (e is null)
                {
                    return refusal!.ToRefusal();
                }
                var offer = found!;
                if (!await store.LockOpenOfferAsync(s, offer.OfferId, offer.NoticeVersion))
                {
                    return Refusal.Of(ProblemTypes.Conflict, $"Offer {offer.OfferId} changed while you were consenting; read it again.");
                }
                var (stored, _) = await auditor.RecordAsync(scope, e, ConsentLedger.Apply(null, e), offer, offer.NoticeHash);
                var record = ConsentLedger.Apply(null, stored);
                return new ConsentView(record, offer, offer.Notice, offer.NoticeHash, []);
            }, cancellationToken);
        }
        catch (ConsentConflictException conflict)
        {
            // A concurrent command won between reading and writing; the message is ours and names no internals.
            return Refusal.Of(ProblemTypes.Conflict, conflict.Message);
        }
        if (result.Value is { } view)
        {
            LogEvent(logger, view.Consent.ConsentId, ConsentState.ConsentGiven);
        }
        return result;
    }

    /// <summary>Withdraws one of the resident's own active consents. Effective for the very next decision.</summary>
    public async Task<Outcome<ConsentView>> WithdrawAsync(Guid subjectId, Guid consentId, CancellationToken cancellationToken)
    {
        Outcome<ConsentView> result;
        try
        {
            result = await audit.CommitAsync<Outcome<ConsentView>>(async (scope, _) =>
            {
                var consent = await store.FindConsentAsync(scope.Db, consentId);
                var (e, refusal) = ConsentCommands.Withdraw(subjectId, consent, consentId, scope.Now);
                if (e is null)
                {
                    return refusal!.ToRefusal();
                }
                return await EndAsync(scope, consent!, e);
            }, cancellationToken);
        }
        catch (ConsentConflictException conflict)
        {
            return Refusal.Of(ProblemTypes.Conflict, conflict.Message);
        }
        if (result.Value is { } view)
        {
            LogEvent(logger, view.Consent.ConsentId, view.Consent.State);
        }
        return result;
    }

    /// <summary>
    /// Withdraws every consent of the resident that is still active, inside the caller's audited
    /// transaction (the erasure path): each is an ordinary withdrawal with its own ledger event, audit
    /// entry and receipt history. Returns how many it withdrew.
    /// </summary>
    public async Task<int> WithdrawAllAsync(AuditScope scope, Guid subjectId)
    {
        var withdrawn = 0;
        foreach (var consent in await store.ListActiveConsentsAsync(scope.Db, subjectId))
        {
            if (ConsentCommands.Withdraw(subjectId, consent, consent.ConsentId, scope.Now).Event is { } e)
            {
                await EndAsync(scope, consent, e);
                withdrawn++;
            }
        }
        return withdrawn;
    }

    /// <summary>Every consent of the resident, current and past, newest first (the export; a resident has one per offer at most a few times).</summary>
    public Task<IReadOnlyList<ConsentView>> ListAsync(Guid subjectId, CancellationToken cancellationToken) =>
        store.Db.ReadAsync<IReadOnlyList<ConsentView>>(async s => await ViewsAsync(s, await store.ListConsentsAsync(s, subjectId)), cancellationToken);

    /// <summary>One page of the resident's consents, newest first, and where the next page starts (null: none).</summary>
    public Task<(IReadOnlyList<ConsentView> Page, ConsentPosition? Next)> ListAsync(Guid subjectId, ConsentPosition? after, int limit, CancellationToken cancellationToken) =>
        store.Db.ReadAsync<(IReadOnlyList<ConsentView>, ConsentPosition?)>(async s =>
        {
            var rows = await store.ListConsentsAsync(s, subjectId, after, limit + 1);
            var (page, more) = Paging.Split(rows, limit);
            return (await ViewsAsync(s, page), more ? new ConsentPosition(page[^1].GivenAt, page[^1].ConsentId) : null);
        }, cancellationToken);

    private async Task<IReadOnlyList<ConsentView>> ViewsAsync(DbSession s, IReadOnlyList<ConsentRecord> consents)
    {
        var views = new List<ConsentView>(consents.Count);
        var offers = new Dictionary<Guid, OfferTerms>();
        foreach (var consent in consents)
        {
            views.Add(await ViewAsync(s, consent, offers));
        }
        return views;
    }

    /// <summary>One of the resident's consents; null when it does not exist or is someone else's.</summary>
    public Task<ConsentView?> FindAsync(Guid subjectId, Guid consentId, CancellationToken cancellationToken) =>
        store.Db.ReadAsync(async s =>
        {
            var consent = await store.FindConsentAsync(s, consentId);
            return consent is null || consent.SubjectId != subjectId ? null : await ViewAsync(s, consent, []);
        }, cancellationToken);

    /// <summary>The signed receipt of one of the resident's consents, reflecting its full history; null if not theirs.</summary>
    public async Task<SignedReceipt?> ReceiptAsync(Guid subjectId, Guid consentId, CancellationToken cancellationToken)
    {
        var receipt = await store.Db.ReadAsync(async s =>
        {
            var consent = await store.FindConsentAsync(s, consentId);
            if (consent is null || consent.SubjectId != subjectId)
            {
                return null;
            }
            var view = await ViewAsync(s, consent, []);
            var events = await store.ListEventsAsync(s, consentId);
            var audits = await store.AuditSequencesAsync(s, consentId);
            var toOffer = (await store.ListConsentsAsync(s, subjectId)).Where(c => c.OfferId == consent.OfferId);
            return ConsentReceipts.Build(consent, view.Offer, view.Notice, view.NoticeHash, events, audits, receipts.Controller, DataFrom(consent, view.Notice, toOffer));
        }, cancellationToken);
        return receipt is null ? null : await receipts.SignAsync(receipt, cancellationToken);
    }

    /// <summary>
    /// Where the data this consent covers starts, by the same rule provision applies: the look-back of
    /// its notice when it is the resident's first consent to the offer, else the moment it was given;
    /// never before the offer's window. Later consents cannot change it, so the receipt stays the same.
    /// </summary>
    private static DateTimeOffset DataFrom(ConsentRecord consent, Notice notice, IEnumerable<ConsentRecord> toOffer)
    {
        var periods = ConsentWindows.Periods(toOffer, notice.EffectiveLookbackDays, new TimeRange(notice.ValidFrom, DateTimeOffset.MaxValue), DateTimeOffset.MaxValue);
        // A consent ended the instant it was given covers nothing; its window is stated from then.
        return periods.FirstOrDefault(p => p.ConsentId == consent.ConsentId)?.Range.From ?? consent.GivenAt;
    }

    /// <summary>
    /// The expiry job: every active consent past its validity becomes ConsentExpired. Idempotent
    /// (a second run finds none). Decisions already deny expired consents by time, so the job only
    /// brings the ledger up to date.
    /// </summary>
    public async Task<int> ExpireDueAsync(CancellationToken cancellationToken)
    {
        const int batch = 500;
        var expired = 0;
        while (true)
        {
            // One audited transaction per batch: the events, their entries and links commit together.
            var progressed = await audit.CommitAsync(async (scope, _) =>
            {
                var count = 0;
                foreach (var candidate in await store.ListDueForExpiryAsync(scope.Db, scope.Now, batch))
                {
                    if (ConsentCommands.Expire(candidate, scope.Now) is { } e)
                    {
                        await EndAsync(scope, candidate, e);
                        count++;
                    }
                }
                return count;
            }, cancellationToken);
            expired += progressed;
            if (progressed < batch)
            {
                break;
            }
        }
        if (expired > 0)
        {
            LogExpired(logger, expired);
        }
        return expired;
    }

    /// <summary>Records an event that ends <paramref name="consent"/>, with its audit entry, and returns the resident's view of it.</summary>
    private async Task<ConsentView> EndAsync(AuditScope scope, ConsentRecord consent, ConsentEvent e)
    {
        var next = ConsentLedger.Apply(consent, e);
        var view = await ViewAsync(scope.Db, next, []);
        var (stored, _) = await auditor.RecordAsync(scope, e, next, view.Offer, view.NoticeHash);
        return view with { Consent = next with { LastSequence = stored.Sequence } };
    }

    private async Task<ConsentView> ViewAsync(DbSession s, ConsentRecord consent, Dictionary<Guid, OfferTerms> offers)
    {
        if (!offers.TryGetValue(consent.OfferId, out var offer))
        {
            offer = await store.FindOfferAsync(s, consent.OfferId)
                ?? throw new InvalidOperationException($"Consent {consent.ConsentId} refers to a missing offer.");
            offers[consent.OfferId] = offer;
        }
        if (consent.NoticeVersion == offer.NoticeVersion)
        {
            return new ConsentView(consent, offer, offer.Notice, offer.NoticeHash, []);
        }
        var notice = await store.FindNoticeAsync(s, offer.OfferId, consent.NoticeVersion)
            ?? throw new InvalidOperationException($"Notice version {consent.NoticeVersion} of offer {offer.OfferId} is missing.");
        return new ConsentView(consent, offer, notice, NoticeCanonical.Hash(notice), NoticeCanonical.Diff(notice, offer.Notice));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Consent {ConsentId} recorded {State}")]
    private static partial void LogEvent(ILogger logger, Guid consentId, ConsentState state);

    [LoggerMessage(Level = LogLevel.Information, Message = "Expiry job moved {Count} consent(s) to ConsentExpired")]
    private static partial void LogExpired(ILogger logger, int count);
}
