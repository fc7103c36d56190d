using System.Text.RegularExpressions;
using InfoBank.Core;
using InfoBank.Core.Consent;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Infrastructure.Db;

namespace InfoBank.Server.Features.Consent;

/// <summary>
/// An approved use of data to offer residents, as the committee's decision produces it: the grant it
/// implements and the notice residents will read and consent to. <see cref="OfferService.Validate"/>
/// checks the notice and puts it in canonical form (items sorted, times in UTC) before it is published.
/// </summary>
/// <param name="GrantId">The committee grant this offer implements; the key for republishing, suspending and revoking.</param>
/// <param name="Notice">What residents are told (ISO/IEC 29184); its withdrawal text is usually
/// <see cref="OfferService.StandardWithdrawal"/>.</param>
public sealed record OfferDraft(Guid GrantId, Notice Notice);

/// <summary>What <see cref="OfferService.PublishAsync"/> did.</summary>
public enum PublishOutcome
{
    /// <summary>First publication for the grant: notice version 1.</summary>
    Created,

    /// <summary>The notice is identical to the current version: nothing changed (idempotent republish).</summary>
    Unchanged,

    /// <summary>The notice changed: a new version, and every active consent to an older one was invalidated.</summary>
    NewNoticeVersion,
}

public sealed record PublishedOffer(OfferTerms Offer, PublishOutcome Outcome, int InvalidatedConsents);

/// <summary>A draft that cannot become an offer; the message lists every problem.</summary>
public sealed class OfferDraftException(string message) : ArgumentException(message);

/// <summary>A status change the offer's current status does not allow (a revoked grant is final).</summary>
public sealed class OfferStateException(string message) : InvalidOperationException(message);

/// <summary>
/// Offers residents can opt into, driven by the ethics committee's decisions. The applications
/// feature calls <see cref="PublishAsync"/> when the committee approves a grant (and again when it
/// changes the grant's terms), <see cref="SuspendForGrantAsync"/> / <see cref="ResumeForGrantAsync"/>
/// when it suspends or lifts a suspension, and <see cref="RevokeForGrantAsync"/> when it revokes.
/// All are idempotent: repeating a call changes nothing. Consent events they cause are recorded in
/// the ledger and the audit log before they return.
/// </summary>
public sealed partial class OfferService(ConsentStore store, ConsentAuditor auditor, IAuditLog audit, ILogger<OfferService> logger)
{
    /// <summary>The standard withdrawal text when a draft gives none (ISO/IEC 29184: say how to withdraw).</summary>
    public static readonly LocalizedText StandardWithdrawal = new(
        "マイページの「同意の管理」からいつでも撤回できます（API: DELETE /api/v1/me/consents/{id}）。撤回後の提供は行われません。",
        "Withdraw at any time under \"My consents\" (API: DELETE /api/v1/me/consents/{id}); nothing is provided after withdrawal.");

    [GeneratedRegex("^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$")]
    private static partial Regex ItemName();

    /// <summary>
    /// Publishes the offer for <see cref="OfferDraft.GrantId"/>, inside the caller's audited
    /// transaction (the committee's decision that approved or changed the grant). The first call
    /// creates it (notice version 1, active). A later call with an identical notice changes nothing;
    /// with any change to the notice it creates the next notice version and moves every active consent
    /// to <see cref="ConsentState.ConsentInvalidated"/>, so residents must read the new notice and
    /// consent again. The offer's status (active or suspended) is kept. Throws
    /// <see cref="OfferDraftException"/> for an invalid draft and <see cref="OfferStateException"/>
    /// for a revoked grant.
    /// </summary>
    public async Task<PublishedOffer> PublishAsync(AuditScope scope, OfferDraft draft, string actor = ConsentCommands.SystemActor)
    {
        var notice = Validate(draft);
        var hash = NoticeCanonical.Hash(notice);
        var now = scope.Now;
        var existing = await store.FindOfferByGrantAsync(scope.Db, draft.GrantId);
        if (existing is null)
        {
            var created = new OfferTerms(Guid.CreateVersion7(now), draft.GrantId, OfferStatus.Active, 1, hash, notice);
            await store.InsertOfferAsync(scope.Db, created, now);
            LogPublished(logger, created.OfferId, draft.GrantId, 1);
            return new PublishedOffer(created, PublishOutcome.Created, 0);
        }
        if (existing.Status == OfferStatus.Revoked)
        {
            throw new OfferStateException($"The grant {draft.GrantId} was revoked; its offer {existing.OfferId} cannot be published again.");
        }
        if (existing.NoticeHash == hash)
        {
            return new PublishedOffer(existing, PublishOutcome.Unchanged, 0);
        }

        var next = existing with { NoticeVersion = existing.NoticeVersion + 1, NoticeHash = hash, Notice = notice };
        if (!await store.UpdateOfferNoticeAsync(scope.Db, next, existing.NoticeVersion, now))
        {
            throw new ConsentConflictException($"Offer {existing.OfferId} was republished concurrently; retry.");
        }
        // The invalidated consents were given to the previous version's notice.
        var ended = await EndAllAsync(scope, next, existing.NoticeHash, c => ConsentCommands.Invalidate(c, next.NoticeVersion, now, actor));
        LogPublished(logger, next.OfferId, draft.GrantId, next.NoticeVersion);
        return new PublishedOffer(next, PublishOutcome.NewNoticeVersion, ended);
    }

    /// <summary><see cref="PublishAsync(AuditScope, OfferDraft, string)"/> in an audited transaction of its own.</summary>
    public Task<PublishedOffer> PublishAsync(OfferDraft draft, string actor = ConsentCommands.SystemActor, CancellationToken cancellationToken = default) =>
        audit.CommitAsync((scope, _) => PublishAsync(scope, draft, actor), cancellationToken);

    /// <summary>
    /// The committee suspended the grant: no new consents and no access (the decision function denies)
    /// while consents stay in place for when it resumes. Returns the offer, or null if the grant has no offer.
    /// </summary>
    public Task<OfferTerms?> SuspendForGrantAsync(AuditScope scope, Guid grantId) =>
        ChangeStatusAsync(scope, grantId, OfferStatus.Active, OfferStatus.Suspended);

    /// <summary>The committee lifted a suspension. Returns the offer, or null if the grant has no offer.</summary>
    public Task<OfferTerms?> ResumeForGrantAsync(AuditScope scope, Guid grantId) =>
        ChangeStatusAsync(scope, grantId, OfferStatus.Suspended, OfferStatus.Active);

    /// <summary>
    /// The committee revoked the grant: the offer is closed for good and every active consent to it
    /// becomes <see cref="ConsentState.ConsentRevoked"/>, each audited in the caller's transaction.
    /// Returns the offer and how many consents were revoked, or null if the grant has no offer.
    /// </summary>
    public async Task<(OfferTerms Offer, int RevokedConsents)?> RevokeForGrantAsync(AuditScope scope, Guid grantId, string actor = ConsentCommands.SystemActor)
    {
        var offer = await store.FindOfferByGrantAsync(scope.Db, grantId);
        if (offer is null)
        {
            return null;
        }
        if (offer.Status == OfferStatus.Revoked)
        {
            return (offer, 0);
        }
        if (!await store.UpdateOfferStatusAsync(scope.Db, offer.OfferId, offer.Status, OfferStatus.Revoked, scope.Now))
        {
            throw new ConsentConflictException($"Offer {offer.OfferId} changed status concurrently; retry.");
        }
        var revoked = offer with { Status = OfferStatus.Revoked };
        var count = await EndAllAsync(scope, revoked, offer.NoticeHash, c => ConsentCommands.Revoke(c, scope.Now, actor));
        LogStatus(logger, offer.OfferId, OfferStatus.Revoked);
        return (revoked, count);
    }

    /// <summary>The same three steps, each in an audited transaction of its own (operators, tests).</summary>
    public Task<OfferTerms?> SuspendForGrantAsync(Guid grantId, CancellationToken cancellationToken = default) =>
        audit.CommitAsync((scope, _) => SuspendForGrantAsync(scope, grantId), cancellationToken);

    public Task<OfferTerms?> ResumeForGrantAsync(Guid grantId, CancellationToken cancellationToken = default) =>
        audit.CommitAsync((scope, _) => ResumeForGrantAsync(scope, grantId), cancellationToken);

    public Task<(OfferTerms Offer, int RevokedConsents)?> RevokeForGrantAsync(Guid grantId, string actor = ConsentCommands.SystemActor, CancellationToken cancellationToken = default) =>
        audit.CommitAsync((scope, _) => RevokeForGrantAsync(scope, grantId, actor), cancellationToken);

    public Task<OfferTerms?> FindByGrantAsync(Guid grantId, CancellationToken cancellationToken = default) =>
        store.Db.ReadAsync(s => store.FindOfferByGrantAsync(s, grantId), cancellationToken);

    private async Task<OfferTerms?> ChangeStatusAsync(AuditScope scope, Guid grantId, OfferStatus from, OfferStatus to)
    {
        var offer = await store.FindOfferByGrantAsync(scope.Db, grantId);
        if (offer is null || offer.Status == to)
        {
            return offer;
        }
        if (offer.Status != from)
        {
            throw new OfferStateException($"Offer {offer.OfferId} is {offer.Status.ToString().ToLowerInvariant()} and cannot become {to.ToString().ToLowerInvariant()}.");
        }
        if (!await store.UpdateOfferStatusAsync(scope.Db, offer.OfferId, from, to, scope.Now))
        {
            throw new ConsentConflictException($"Offer {offer.OfferId} changed status concurrently; retry.");
        }
        LogStatus(logger, offer.OfferId, to);
        return offer with { Status = to };
    }

    /// <summary>Ends every active consent to the offer with the event <paramref name="end"/> makes, each with its audit entry.</summary>
    private async Task<int> EndAllAsync(AuditScope scope, OfferTerms offer, string consentedNoticeHash, Func<ConsentRecord, ConsentEvent?> end)
    {
        var count = 0;
        foreach (var consent in await store.ListActiveForOfferAsync(scope.Db, offer.OfferId))
        {
            if (end(consent) is not { } e)
            {
                continue;
            }
            await auditor.RecordAsync(scope, e, ConsentLedger.Apply(consent, e), offer, consentedNoticeHash);
            count++;
        }
        return count;
    }

    /// <summary>Checks a draft and turns it into the notice residents will see.</summary>
    public static Notice Validate(OfferDraft draft)
    {
        var notice = draft.Notice;
        var problems = new List<string>();
        if (draft.GrantId == Guid.Empty)
        {
            problems.Add("grantId is required.");
        }
        if (string.IsNullOrWhiteSpace(notice.Recipient.ClientId) || string.IsNullOrWhiteSpace(notice.Recipient.Name))
        {
            problems.Add("The recipient needs a client id and a name.");
        }
        if (notice.Recipient.Country is not { Length: 2 } country || !country.All(char.IsAsciiLetterUpper))
        {
            problems.Add("The recipient's country must be an ISO 3166-1 alpha-2 code such as JP.");
        }
        if (!Purposes.IsKnown(notice.PurposeCode))
        {
            problems.Add($"Unknown purpose code '{notice.PurposeCode}'; use one of {string.Join(", ", Purposes.Labels.Keys)}.");
        }
        RequireText(problems, "purposeText", notice.PurposeText);
        RequireText(problems, "benefitText", notice.BenefitText);
        RequireText(problems, "withdrawalMethod", notice.WithdrawalMethod);
        var items = NoticeCanonical.Normalise(notice.Items);
        if (items.Count == 0)
        {
            problems.Add("An offer needs at least one data item.");
        }
        foreach (var item in items.Where(i => !ItemName().IsMatch(i)))
        {
            problems.Add($"'{item}' is not a data category name (like steps.daily).");
        }
        var specialCare = NoticeCanonical.Normalise(notice.SpecialCareItems);
        foreach (var item in specialCare.Where(i => !items.Contains(i)))
        {
            problems.Add($"Special-care item '{item}' is not among the offer's items.");
        }
        foreach (var item in items.Where(i => DataCategories.SpecialCare.Contains(i) && !specialCare.Contains(i)))
        {
            problems.Add($"'{item}' is special-care data and must be listed in specialCareItems.");
        }
        if (notice.ValidUntil <= notice.ValidFrom)
        {
            problems.Add("validUntil must be after validFrom.");
        }
        if (notice.RetentionDays is < 1 or > 3650)
        {
            problems.Add("retentionDays must be between 1 and 3650.");
        }
        if (notice.LookbackDays is < 0 or > NoticeDataWindow.MaxLookbackDays)
        {
            problems.Add($"lookbackDays must be between 0 and {NoticeDataWindow.MaxLookbackDays}.");
        }
        if (notice.BenefitPoints is < 0 or > 1_000_000)
        {
            problems.Add("benefitPoints must be between 0 and 1,000,000.");
        }
        if (problems.Count > 0)
        {
            throw new OfferDraftException(string.Join(" ", problems));
        }
        return notice with
        {
            Items = items,
            SpecialCareItems = specialCare,
            ValidFrom = notice.ValidFrom.ToUniversalTime(),
            ValidUntil = notice.ValidUntil.ToUniversalTime(),
            // New notices always state their window; only notices published before windows existed lack one.
            LookbackDays = notice.EffectiveLookbackDays,
        };
    }

    private static void RequireText(List<string> problems, string name, LocalizedText? text)
    {
        if (text is null || string.IsNullOrWhiteSpace(text.Ja) || string.IsNullOrWhiteSpace(text.En))
        {
            problems.Add($"{name} needs both Japanese and English text.");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Offer {OfferId} for grant {GrantId} published at notice version {Version}")]
    private static partial void LogPublished(ILogger logger, Guid offerId, Guid grantId, int version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Offer {OfferId} is now {Status}")]
    private static partial void LogStatus(ILogger logger, Guid offerId, OfferStatus status);
}
