using InfoBank.Core;
using InfoBank.Core.Applications;
using InfoBank.Core.Consent;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Features.Identity;


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
        return new OfferDraft(grant.Id, new Notice(
            new Recipient(grant.RecipientClientId, recipientName, spec.Recipient.Country),
            spec.Purpose.Code,
            spec.Purpose.Text,
            items,
            specialCare,
            spec.Output.Kind == OutputKinds.Record ? Granularity.RecordLevel : Granularity.AggregateOnly,
            grant.ValidFrom,
            grant.ValidUntil,
            grant.RetentionDays,
            grant.BenefitPoints,
            spec.Benefit.Description,
            OfferService.StandardWithdrawal,
            spec.LookbackDays));
    }

    public Task SuspendAsync(AuditScope scope, Guid grantId) => offers.SuspendForGrantAsync(scope, grantId);

    public Task ResumeAsync(AuditScope scope, Guid grantId) => offers.ResumeForGrantAsync(scope, grantId);

    public async Task<int> RevokeAsync(AuditScope scope, Guid grantId, string actor) =>
        (await offers.RevokeForGrantAsync(scope, grantId, actor))?.RevokedConsents ?? 0;
}
