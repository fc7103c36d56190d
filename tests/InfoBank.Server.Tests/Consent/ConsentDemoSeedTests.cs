using InfoBank.Core.Consent;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Infrastructure.Demo;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Consent;

public sealed class ConsentDemoSeedTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    [Fact]
    public async Task Demo_residents_opt_in_only_to_offers_the_committee_approved_and_only_once()
    {
        var seeder = factory.Services.GetRequiredService<DemoSeeder>();
        var first = await seeder.SeedAsync(CancellationToken.None);
        var second = await seeder.SeedAsync(CancellationToken.None);
        Assert.Single(first.Notes, n => n.StartsWith("Consent:", StringComparison.Ordinal));
        Assert.DoesNotContain(second.Notes, n => n.StartsWith("Consent:", StringComparison.Ordinal));

        // One offer per approved application: the fitness club's; the research institute's is still in review.
        var store = factory.Services.GetRequiredService<ConsentStore>();
        var open = await store.Db.ReadAsync(s => store.ListOpenOffersAsync(s, DateTimeOffset.UtcNow));
        Assert.Single(open, o => o.Notice.Recipient.ClientId == "business-fitness-club");
        Assert.DoesNotContain(open, o => o.Notice.Recipient.ClientId == "business-health-research");

        var sato = await factory.Services.GetRequiredService<AccountStore>().FindByUsernameAsync("sato.hanako", CancellationToken.None);
        var consents = await factory.Services.GetRequiredService<ConsentService>().ListAsync(sato!.Value.Account.Id, CancellationToken.None);
        var fitness = open.Single(o => o.Notice.Recipient.ClientId == "business-fitness-club");
        Assert.Single(consents, c => c.Consent.State == ConsentState.ConsentGiven && c.Consent.OfferId == fitness.OfferId);

        var decisions = factory.Services.GetRequiredService<ConsentDecisions>();
        var allowed = await decisions.DecideAsync(new DecisionRequest(
            "business-fitness-club", sato.Value.Account.Id, fitness.Notice.PurposeCode, fitness.Notice.Items, fitness.Notice.Granularity));
        Assert.True(allowed.Allowed, string.Join(" ", allowed.Reasons));
        var research = await decisions.DecideAsync(new DecisionRequest(
            "business-health-research", sato.Value.Account.Id, Purposes.AcademicResearch, [DataCategories.BodyComposition], Granularity.RecordLevel));
        Assert.False(research.Allowed);
    }
}
