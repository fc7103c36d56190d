using InfoBank.Core.Consent;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Demo;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Consent;

public sealed class ConsentDemoSeedTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    [Fact]
    public async Task Demo_publishes_the_sapporo_offers_and_some_consents_once()
    {
        var seeder = factory.Services.GetRequiredService<DemoSeeder>();
        var first = await seeder.SeedAsync(CancellationToken.None);
        var second = await seeder.SeedAsync(CancellationToken.None);
        Assert.Equal(2, first.Notes.Count(n => n.StartsWith("Consent:", StringComparison.Ordinal)));
        Assert.DoesNotContain(second.Notes, n => n.StartsWith("Consent:", StringComparison.Ordinal));

        var offers = factory.Services.GetRequiredService<OfferService>();
        foreach (var grant in new[] { ConsentDemoSeed.FitnessGrant, ConsentDemoSeed.ResearchGrant, ConsentDemoSeed.MallGrant })
        {
            var offer = await offers.FindByGrantAsync(grant);
            Assert.NotNull(offer);
            Assert.Equal(1, offer.NoticeVersion);
        }

        var sato = await factory.Services.GetRequiredService<AccountStore>().FindByUsernameAsync("sato.hanako", CancellationToken.None);
        var consents = await factory.Services.GetRequiredService<ConsentService>().ListAsync(sato!.Value.Account.Id, CancellationToken.None);
        Assert.Equal(2, consents.Count(c => c.Consent.State == ConsentState.ConsentGiven));
        var research = await factory.Services.GetRequiredService<ConsentDecisions>().DecideAsync(new DecisionRequest(
            "business-health-research", sato.Value.Account.Id, Purposes.AcademicResearch, [DataCategories.BodyComposition], Granularity.RecordLevel));
        Assert.True(research.Allowed, string.Join(" ", research.Reasons));
    }
}
