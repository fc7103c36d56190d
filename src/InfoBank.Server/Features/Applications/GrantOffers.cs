using InfoBank.Core.Applications;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Features.Identity;
using ConsentText = InfoBank.Core.Consent.LocalizedText;
using OfferStatus = InfoBank.Core.Consent.OfferStatus;

namespace InfoBank.Server.Features.Applications;

/// <summary>
/// What a committee step does to residents' side: approval publishes the offer residents opt into,
/// suspension pauses it, revocation closes it and moves every consent to ConsentRevoked.
/// </summary>
public interface IGrantOffers
{
    Task PublishAsync(GrantRow grant, ApplicationSpec spec, CancellationToken cancellationToken);

    Task SuspendAsync(Guid grantId, CancellationToken cancellationToken);

    Task ResumeAsync(Guid grantId, CancellationToken cancellationToken);

    /// <summary>Returns how many consents were revoked.</summary>
    Task<int> RevokeAsync(Guid grantId, string actor, CancellationToken cancellationToken);

    /// <summary>The status of the grant's offer, or null when it has none.</summary>
    Task<OfferStatus?> OfferStatusAsync(Guid grantId, CancellationToken cancellationToken);
}

/// <summary>What brings a grant's offer back in line with the grant after the offer step was lost.</summary>
public enum OfferRepair
{
    None,
    Publish,
    PublishSuspended,
    Suspend,
    Resume,
    Revoke,
}

public static class OfferSync
{
    /// <summary>
    /// The repair for a grant in <paramref name="grant"/> whose offer is in <paramref name="offer"/>
    /// (null: none). A revoked grant that never got an offer needs none; an expired grant is left
    /// alone (its offer's own window has ended with it).
    /// </summary>
    public static OfferRepair Needed(GrantStatus grant, OfferStatus? offer) => (grant, offer) switch
    {
        (GrantStatus.Active, null) => OfferRepair.Publish,
        (GrantStatus.Active, OfferStatus.Suspended) => OfferRepair.Resume,
        (GrantStatus.Suspended, null) => OfferRepair.PublishSuspended,
        (GrantStatus.Suspended, OfferStatus.Active) => OfferRepair.Suspend,
        (GrantStatus.Revoked, OfferStatus.Active or OfferStatus.Suspended) => OfferRepair.Revoke,
        _ => OfferRepair.None,
    };
}

/// <summary>The consent feature's <see cref="OfferService"/>, fed from the grant and the approved application.</summary>
public sealed class ConsentGrantOffers(OfferService offers, IClientDirectory clients, RuleCatalogProvider rules) : IGrantOffers
{
    public async Task PublishAsync(GrantRow grant, ApplicationSpec spec, CancellationToken cancellationToken)
    {
        var recipient = await clients.FindAsync(grant.RecipientClientId, cancellationToken);
        var items = spec.Data.Select(d => d.Category).ToList();
        var specialCare = items.Where(c => rules.Catalog.Inventory.Find(c)?.SpecialCare == true).ToList();
        await offers.PublishAsync(new OfferDraft(
            grant.Id,
            new InfoBank.Core.Consent.Recipient(grant.RecipientClientId, recipient?.DisplayName ?? grant.RecipientClientId, spec.Recipient.Country),
            spec.Purpose.Code,
            new ConsentText(spec.Purpose.Text.Ja, spec.Purpose.Text.En),
            items,
            specialCare,
            spec.Output.Kind == OutputKinds.Record ? InfoBank.Core.Consent.Granularity.RecordLevel : InfoBank.Core.Consent.Granularity.AggregateOnly,
            grant.ValidFrom,
            grant.ValidUntil,
            grant.RetentionDays,
            grant.BenefitPoints,
            new ConsentText(spec.Benefit.Description.Ja, spec.Benefit.Description.En)), cancellationToken: cancellationToken);
    }

    public Task SuspendAsync(Guid grantId, CancellationToken cancellationToken) => offers.SuspendForGrantAsync(grantId, cancellationToken);

    public Task ResumeAsync(Guid grantId, CancellationToken cancellationToken) => offers.ResumeForGrantAsync(grantId, cancellationToken);

    public async Task<int> RevokeAsync(Guid grantId, string actor, CancellationToken cancellationToken) =>
        (await offers.RevokeForGrantAsync(grantId, actor, cancellationToken))?.RevokedConsents ?? 0;

    public async Task<OfferStatus?> OfferStatusAsync(Guid grantId, CancellationToken cancellationToken) =>
        (await offers.FindByGrantAsync(grantId, cancellationToken))?.Status;
}
