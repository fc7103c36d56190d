namespace InfoBank.Core.Consent;

/// <summary>
/// The question the Access feature asks before any provision: may <paramref name="RecipientClientId"/>
/// receive <paramref name="Items"/> of resident <paramref name="SubjectId"/> for <paramref name="PurposeCode"/>
/// at <paramref name="Granularity"/>? <paramref name="GrantId"/>, when given, narrows it to one grant.
/// </summary>
public sealed record DecisionRequest(
    string RecipientClientId,
    Guid SubjectId,
    string PurposeCode,
    IReadOnlyCollection<string> Items,
    Granularity Granularity,
    Guid? GrantId = null);

/// <summary>One of the resident's consents joined with the offer's current terms, as read at decision time.</summary>
public sealed record ConsentSnapshotEntry(ConsentRecord Consent, OfferTerms Offer);

/// <summary>
/// Allow or deny, with the reasons (for the audit entry and the resident's passbook) and, on allow,
/// the consent that permits it (APPI Art. 29 records name the consent).
/// </summary>
public sealed record ConsentDecision(bool Allowed, Guid? ConsentId, IReadOnlyList<string> Reasons)
{
    public static ConsentDecision Deny(IReadOnlyList<string> reasons) => new(false, null, reasons);
}

/// <summary>
/// The single place that decides whether a provision is covered by consent. Deny by default: it
/// allows only when one active consent of this resident, to an active offer of this recipient and
/// purpose at the offer's current notice version, inside its validity, covers every requested item
/// at the requested granularity, with every special-care item named explicitly. It looks only at the
/// snapshot it is given, which the caller reads fresh for each decision (no cache), and at
/// <paramref name="now"/>, so a withdrawal or expiry counts from the very next request even if the
/// expiry job has not run yet.
/// </summary>
public static class ConsentDecider
{
    public static ConsentDecision Decide(DecisionRequest request, DateTimeOffset now, IEnumerable<ConsentSnapshotEntry> snapshot)
    {
        if (request.Items.Count == 0)
        {
            return ConsentDecision.Deny(["No data items were requested."]);
        }
        var requested = request.Items.Distinct(StringComparer.Ordinal).ToList();
        var reasons = new List<string>();
        var candidates = 0;
        foreach (var entry in snapshot)
        {
            var (consent, offer) = (entry.Consent, entry.Offer);
            if (consent.SubjectId != request.SubjectId || consent.OfferId != offer.OfferId
                || !string.Equals(offer.Notice.Recipient.ClientId, request.RecipientClientId, StringComparison.Ordinal)
                || !string.Equals(offer.Notice.PurposeCode, request.PurposeCode, StringComparison.Ordinal)
                || request.GrantId is { } grant && offer.GrantId != grant)
            {
                continue;
            }
            candidates++;
            var failures = Failures(request, requested, now, consent, offer);
            if (failures.Count == 0)
            {
                return new ConsentDecision(true, consent.ConsentId,
                    [$"Consent {consent.ConsentId} to offer {offer.OfferId} (notice version {consent.NoticeVersion}) covers {string.Join(", ", requested.Order(StringComparer.Ordinal))} for {request.PurposeCode}."]);
            }
            reasons.AddRange(failures);
        }
        if (candidates == 0)
        {
            reasons.Add($"The resident has no consent for recipient {request.RecipientClientId} and purpose {request.PurposeCode}.");
        }
        return ConsentDecision.Deny(reasons);
    }

    private static List<string> Failures(DecisionRequest request, List<string> requested, DateTimeOffset now, ConsentRecord consent, OfferTerms offer)
    {
        var failures = new List<string>();
        var id = consent.ConsentId;
        if (!consent.IsActive)
        {
            failures.Add($"Consent {id} is {consent.State}.");
            return failures;
        }
        if (offer.Status != OfferStatus.Active)
        {
            failures.Add($"Offer {offer.OfferId} is {offer.Status.ToString().ToLowerInvariant()}.");
        }
        if (consent.NoticeVersion != offer.NoticeVersion)
        {
            failures.Add($"Consent {id} was given to notice version {consent.NoticeVersion}; the current version is {offer.NoticeVersion}.");
        }
        if (now >= consent.ExpiresAt)
        {
            failures.Add($"Consent {id} expired at {NoticeCanonical.Time(consent.ExpiresAt)}.");
        }
        if (now < offer.Notice.ValidFrom)
        {
            failures.Add($"Offer {offer.OfferId} is valid only from {NoticeCanonical.Time(offer.Notice.ValidFrom)}.");
        }
        var missing = requested.Where(i => !consent.Items.Contains(i, StringComparer.Ordinal)).Order(StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
        {
            failures.Add($"Consent {id} does not cover item(s) {string.Join(", ", missing)}.");
        }
        var unnamed = requested
            .Where(i => offer.Notice.SpecialCareItems.Contains(i, StringComparer.Ordinal) || DataCategories.SpecialCare.Contains(i))
            .Where(i => !consent.ExplicitItems.Contains(i, StringComparer.Ordinal))
            .Order(StringComparer.Ordinal).ToList();
        if (unnamed.Count > 0)
        {
            failures.Add($"Special-care item(s) {string.Join(", ", unnamed)} were not named explicitly in consent {id}.");
        }
        if (request.Granularity == Granularity.RecordLevel && offer.Notice.Granularity == Granularity.AggregateOnly)
        {
            failures.Add($"Offer {offer.OfferId} allows aggregate results only, not records.");
        }
        return failures;
    }
}
