using InfoBank.Core.Consent;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Infrastructure.Demo;

namespace InfoBank.Server.Features.Consent;

/// <summary>
/// Demo residents opting in to the Sapporo offers. Offers exist only because the committee approved
/// an application (the applications feature's demo part, which runs first, approves the fitness
/// club's aggregate-only application and leaves the research institute's in review), so this part
/// publishes nothing: it gives consent to whichever of the named recipients' offers are open. Each
/// consent is given once; one the resident later withdrew is not given again.
/// </summary>
public sealed class ConsentDemoSeed(ConsentStore store, ConsentService consents, AccountStore accounts, TimeProvider time) : IDemoSeedPart
{
    public int Order => 40;

    /// <summary>Who opts in to which recipients' offers (the third demo resident is left to do it by hand).</summary>
    public static readonly IReadOnlyList<(string Username, string[] Recipients)> DemoConsents =
    [
        ("sato.hanako", ["business-fitness-club", "business-health-research"]),
        ("suzuki.ichiro", ["business-fitness-club"]),
    ];

    public async Task SeedAsync(DemoSeedContext context, CancellationToken cancellationToken)
    {
        var open = await store.Db.ReadAsync(s => store.ListOpenOffersAsync(s, time.GetUtcNow()), cancellationToken);
        var given = 0;
        foreach (var (username, recipients) in DemoConsents)
        {
            if (await accounts.FindByUsernameAsync(username, cancellationToken) is not { } account)
            {
                continue;
            }
            var history = await store.Db.ReadAsync(s => store.ListConsentsAsync(s, account.Account.Id), cancellationToken);
            foreach (var offer in open.Where(o => recipients.Contains(o.Notice.Recipient.ClientId, StringComparer.Ordinal)))
            {
                if (offer.Status != OfferStatus.Active || history.Any(c => c.OfferId == offer.OfferId))
                {
                    continue;
                }
                var (view, _) = await consents.GiveAsync(account.Account.Id,
                    new GiveConsent(offer.OfferId, offer.NoticeVersion, offer.NoticeHash, offer.Notice.SpecialCareItems), cancellationToken);
                given += view is null ? 0 : 1;
            }
        }
        if (given > 0)
        {
            context.Notes.Add($"Consent: {given} demo consent(s) given to the committee-approved offers (see GET /api/v1/offers).");
        }
    }
}
