using InfoBank.Core.Applications;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Features.Identity;
using ConsentText = InfoBank.Core.Consent.LocalizedText;

namespace InfoBank.Server.Features.Applications;

/// <summary>
/// What a committee step does to residents' side, inside the step's own audited transaction:
/// approval publishes the offer residents opt into, suspension pauses it, revocation closes it and
/// moves every consent to ConsentRevoked. The grant, its offer and every consent event they cause
/// commit together, so a crash can never leave a grant and its offer apart.
/// </summary>
public interface IGrantOffers
{
    /// <summary>The recipient's display name for the notice, read before the transaction (from the client directory).</summary>
    Task<string> RecipientNameAsync(string clientId, CancellationToken cancellationToken);

    Task PublishAsync(AuditScope scope, GrantRow grant, ApplicationSpec spec, string recipientName);

    Task SuspendAsync(AuditScope scope, Guid grantId);

    Task ResumeAsync(AuditScope scope, Guid grantId);

    /// <summary>Returns how many consents were revoked.</summary>
    Task<int> RevokeAsync(AuditScope scope, Guid grantId, string actor);
}

/// <summary>The consent feature's <see cref="OfferService"/>, fed from the grant and the approved application.</summary>
public sealed class ConsentGrantOffers(OfferService offers, IClientDirectory clients, RuleCatalogProvider rules) : IGrantOffers
{
    public async Task<string> RecipientNameAsync(string clientId, CancellationToken cancellationToken) =>
        (await clients.FindAsync(clientId, cancellationToken))?.DisplayName ?? clientId;

    public Task PublishAsync(AuditScope scope, GrantRow grant, ApplicationSpec spec, string recipientName) =>
        offers.PublishAsync(scope, Draft(grant, spec, recipientName));

    private OfferDraft Draft(GrantRow grant, ApplicationSpec spec, string recipientName)
    {
        var items = spec.Data.Select(d => d.Category).ToList();
        var specialCare = items.Where(c => rules.Catalog.Inventory.Find(c)?.SpecialCare == true).ToList();
        return new OfferDraft(
            grant.Id,
            new InfoBank.Core.Consent.Recipient(grant.RecipientClientId, recipientName, spec.Recipient.Country),
            spec.Purpose.Code,
            new ConsentText(spec.Purpose.Text.Ja, spec.Purpose.Text.En),
            items,
            specialCare,
            spec.Output.Kind == OutputKinds.Record ? InfoBank.Core.Consent.Granularity.RecordLevel : InfoBank.Core.Consent.Granularity.AggregateOnly,
            grant.ValidFrom,
            grant.ValidUntil,
            grant.RetentionDays,
            grant.BenefitPoints,
            new ConsentText(spec.Benefit.Description.Ja, spec.Benefit.Description.En),
            LookbackDays: spec.LookbackDays);
    }

    public Task SuspendAsync(AuditScope scope, Guid grantId) => offers.SuspendForGrantAsync(scope, grantId);

    public Task ResumeAsync(AuditScope scope, Guid grantId) => offers.ResumeForGrantAsync(scope, grantId);

    public async Task<int> RevokeAsync(AuditScope scope, Guid grantId, string actor) =>
        (await offers.RevokeForGrantAsync(scope, grantId, actor))?.RevokedConsents ?? 0;
}
