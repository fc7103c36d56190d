namespace InfoBank.Core.Tests.Access;

/// <summary>One consent of a resident to a grant's offer: given at, and possibly withdrawn or expiring.</summary>
public sealed record ModelConsent(Guid Resident, DateTimeOffset GivenAt, DateTimeOffset? WithdrawnAt, DateTimeOffset ExpiresAt);

/// <summary>
/// The reference model of "which residents may be returned": written from the rules, not from the
/// implementation. A resident may be returned at <c>now</c> when the grant is active and one of
/// their consents was given at or before <c>now</c>, is not withdrawn at or before <c>now</c>, and
/// has not expired; and the resident is not erased.
/// </summary>
public static class AccessReferenceModel
{
    public static IReadOnlySet<Guid> Allowed(IEnumerable<ModelConsent> consents, bool grantActive, IReadOnlySet<Guid> erased, DateTimeOffset now) =>
        grantActive
            ? consents
                .Where(c => c.GivenAt <= now && (c.WithdrawnAt is not { } w || now < w) && now < c.ExpiresAt && !erased.Contains(c.Resident))
                .Select(c => c.Resident)
                .ToHashSet()
            : new HashSet<Guid>();
}
