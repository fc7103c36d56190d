namespace InfoBank.Core.Consent;

/// <summary>Why a command was refused: <see cref="Kind"/> is what a client can act on (the server gives each its own problem type), <see cref="Message"/> tells the resident.</summary>
public sealed record ConsentRefusal(ConsentRefusalKind Kind, string Message);

/// <summary>
/// Each reason a consent command is refused, one per thing the resident would do about it: they are
/// told apart by kind, never by the wording of the message.
/// </summary>
public enum ConsentRefusalKind
{
    /// <summary>No such offer or consent for this resident (another resident's consent is not revealed).</summary>
    NotFound,

    /// <summary>The offer is suspended, revoked or expired, or outside the period its notice states.</summary>
    OfferNotOpen,

    /// <summary>The consent named a notice version or hash that is not the offer's current one.</summary>
    NoticeNotCurrent,

    /// <summary>The resident already holds an active consent to the offer.</summary>
    AlreadyConsented,

    /// <summary>The consent to withdraw has already ended (withdrawn, expired, revoked or invalidated).</summary>
    AlreadyEnded,

    /// <summary>The request is well-formed but not acceptable as consent: special-care items not named, or named that the offer does not list.</summary>
    Unacceptable,

    /// <summary>The resident is not enrolled (never, or erased): nobody can consent for them.</summary>
    NotEnrolled,

    /// <summary>The consent named a data window (look-back) other than the one the notice offers.</summary>
    WindowNotOffered,
}

/// <summary>
/// What a resident asks for when giving consent: the offer, the notice version they read, the
/// special-care items they name, and optionally the data window they agree to (it must be the
/// notice's own; when omitted, the notice's window applies).
/// </summary>
public sealed record GiveConsent(Guid OfferId, int NoticeVersion, string? NoticeHash, IReadOnlyList<string> ExplicitItems, int? LookbackDays = null);

/// <summary>
/// The consent commands as pure functions from current state to the one event they append (or a
/// refusal). The server runs them inside a transaction over freshly read state; the property tests
/// run the very same functions against a reference model.
/// </summary>
public static class ConsentCommands
{
    /// <summary>
    /// Consent to all items of an active offer at its current notice version. Refused when the offer
    /// is unknown, not active, outside its window, the notice version is not the current one (the
    /// resident must read the new notice), it names a data window the notice does not offer, the
    /// resident already has an active consent to it, or the
    /// offer involves special-care items and the resident did not name each of them.
    /// </summary>
    public static (ConsentEvent? Event, ConsentRefusal? Refusal) Give(
        Guid subjectId, OfferTerms? offer, ConsentRecord? activeForOffer, GiveConsent request, Guid newConsentId, DateTimeOffset now)
    {
        if (offer is null)
        {
            return Refuse(ConsentRefusalKind.NotFound, $"There is no offer {request.OfferId}.");
        }
        if (offer.Status != OfferStatus.Active)
        {
            return Refuse(ConsentRefusalKind.OfferNotOpen, $"Offer {offer.OfferId} is {offer.Status.ToString().ToLowerInvariant()} and cannot be consented to.");
        }
        if (now < offer.Notice.ValidFrom || now >= offer.Notice.ValidUntil)
        {
            return Refuse(ConsentRefusalKind.OfferNotOpen,
                $"Offer {offer.OfferId} is open from {NoticeCanonical.Time(offer.Notice.ValidFrom)} until {NoticeCanonical.Time(offer.Notice.ValidUntil)}, not now.");
        }
        if (request.NoticeVersion != offer.NoticeVersion)
        {
            return Refuse(ConsentRefusalKind.NoticeNotCurrent,
                $"Notice version {request.NoticeVersion} of offer {offer.OfferId} is not current; read version {offer.NoticeVersion} and consent to it.");
        }
        if (request.NoticeHash is not null && !string.Equals(request.NoticeHash, offer.NoticeHash, StringComparison.Ordinal))
        {
            return Refuse(ConsentRefusalKind.NoticeNotCurrent,
                $"The notice hash does not match version {offer.NoticeVersion} of offer {offer.OfferId} ({offer.NoticeHash}).");
        }
        if (request.LookbackDays is { } asked && asked != offer.Notice.EffectiveLookbackDays)
        {
            return Refuse(ConsentRefusalKind.WindowNotOffered,
                $"Offer {offer.OfferId} offers data from {offer.Notice.EffectiveLookbackDays} day(s) before you consent (lookbackDays {offer.Notice.EffectiveLookbackDays}), not {asked}; consent to the window it states or omit lookbackDays.");
        }
        if (activeForOffer is not null)
        {
            return Refuse(ConsentRefusalKind.AlreadyConsented, $"You already consented to offer {offer.OfferId} (consent {activeForOffer.ConsentId}).");
        }
        var unknownExplicit = request.ExplicitItems.Where(i => !offer.Notice.SpecialCareItems.Contains(i, StringComparer.Ordinal)).ToList();
        if (unknownExplicit.Count > 0)
        {
            return Refuse(ConsentRefusalKind.Unacceptable,
                $"Offer {offer.OfferId} has no special-care item(s) {string.Join(", ", unknownExplicit)}; name only the special-care items it lists.");
        }
        var unnamed = offer.Notice.SpecialCareItems.Where(i => !request.ExplicitItems.Contains(i, StringComparer.Ordinal)).ToList();
        if (unnamed.Count > 0)
        {
            return Refuse(ConsentRefusalKind.Unacceptable,
                $"Offer {offer.OfferId} includes special-care data; consent must name each such item explicitly: missing {string.Join(", ", unnamed)}.");
        }
        return (new ConsentEvent(newConsentId, subjectId, offer.OfferId, ConsentState.ConsentGiven, now, offer.NoticeVersion,
            Actor(subjectId), NoticeCanonical.Normalise(offer.Notice.Items), NoticeCanonical.Normalise(request.ExplicitItems),
            offer.Notice.ValidUntil), null);
    }

    /// <summary>The resident withdraws one of their own active consents. Someone else's consent is "not found".</summary>
    public static (ConsentEvent? Event, ConsentRefusal? Refusal) Withdraw(Guid subjectId, ConsentRecord? consent, Guid consentId, DateTimeOffset now)
    {
        if (consent is null || consent.SubjectId != subjectId)
        {
            return Refuse(ConsentRefusalKind.NotFound, $"You have no consent {consentId}.");
        }
        if (!consent.IsActive)
        {
            return Refuse(ConsentRefusalKind.AlreadyEnded, $"Consent {consentId} is already {consent.State} and cannot be withdrawn.");
        }
        return (End(consent, ConsentState.ConsentWithdrawn, now, Actor(subjectId)), null);
    }

    /// <summary>The expiry job's step for one consent: an event when its validity has passed, else null (idempotent).</summary>
    public static ConsentEvent? Expire(ConsentRecord consent, DateTimeOffset now) =>
        consent.IsActive && now >= consent.ExpiresAt ? End(consent, ConsentState.ConsentExpired, now, SystemActor) : null;

    /// <summary>The committee revoked the grant: every active consent to its offer ends.</summary>
    public static ConsentEvent? Revoke(ConsentRecord consent, DateTimeOffset now, string actor) =>
        consent.IsActive ? End(consent, ConsentState.ConsentRevoked, now, actor) : null;

    /// <summary>The offer's notice changed: active consents to an older version end; the resident must consent again.</summary>
    public static ConsentEvent? Invalidate(ConsentRecord consent, int newNoticeVersion, DateTimeOffset now, string actor) =>
        consent.IsActive && consent.NoticeVersion != newNoticeVersion ? End(consent, ConsentState.ConsentInvalidated, now, actor) : null;

    public const string SystemActor = "system";

    public static string Actor(Guid subjectId) => $"resident:{subjectId}";

    private static ConsentEvent End(ConsentRecord consent, ConsentState state, DateTimeOffset now, string actor) =>
        new(consent.ConsentId, consent.SubjectId, consent.OfferId, state, now, consent.NoticeVersion, actor, [], [], null);

    private static (ConsentEvent?, ConsentRefusal?) Refuse(ConsentRefusalKind kind, string message) => (null, new ConsentRefusal(kind, message));
}
