using System.Net;
using InfoBank.Core;
using InfoBank.Core.Applications;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Tests.Applications;
using InfoBank.Server.Tests.Infrastructure;
using static InfoBank.Server.Tests.Access.AccessScenario;

namespace InfoBank.Server.Tests.Access;

/// <summary>
/// Pseudonyms over HTTP: one business holding two grants gets a different pseudonym for the same
/// resident under each (its datasets for two purposes cannot be joined), and the same pseudonym
/// across every page and every fetch of one grant (it can follow a resident within that purpose).
/// </summary>
public sealed class PseudonymHttpTests(PseudonymHttpTests.Factory factory) : IClassFixture<PseudonymHttpTests.Factory>
{
    public sealed class Factory : ClockedInfoBankFactory;

    // Daily fetches, so a day later is a new fetch; record-level steps for two research projects.
    private static ApplicationSpec StepsRecords(string project) => ApplicationServiceTests<SqliteFixture>.Example("health-research") with
    {
        Purpose = new PurposeSpec("dpv:AcademicResearch", new LocalizedText("歩数の研究: " + project, "Research on steps: " + project)),
        Data = [new DataRequest("steps.daily", ["steps"])],
        Fetch = new FetchSpec("daily", null),
    };

    [Fact]
    public async Task Two_grants_of_one_business_see_unlinkable_pseudonyms_and_one_grant_sees_a_stable_one()
    {
        var scenario = new AccessScenario(factory);
        var (research, businessId, business) = await scenario.ApprovedGrantAsync(StepsRecords("walking"));
        var development = await scenario.ApprovedGrantAsync(business, StepsRecords("sleep"));
        var (sourceId, sourceToken) = await factory.ClientTokenAsync(ClientKind.DataSource);
        using var source = factory.CreateClientWithToken(sourceToken);

        // Three residents consent to both, then deposit two days of steps each (a few milliseconds
        // apart, so each record's observation time names its resident).
        var residents = new List<Person> { await scenario.ResidentAsync(), await scenario.ResidentAsync(), await scenario.ResidentAsync() };
        foreach (var grant in new[] { research, development })
        {
            var offer = await scenario.OfferOfAsync(grant);
            foreach (var resident in residents)
            {
                await ConsentAsync(resident, offer);
            }
        }
        foreach (var resident in residents)
        {
            await Task.Delay(10);
            await DepositStepsAsync(source, sourceId, resident, days: 2, factory.Time.GetUtcNow());
        }

        // Pages of one fetch (page size 1): every record of a resident carries one pseudonym.
        var first = await ReadAllAsync(business, research, limit: 1);
        Assert.Equal(6, first.Count);
        var researchSubjects = first.Select(r => r.GetProperty("subject").GetString()!).Distinct().ToList();
        Assert.Equal(3, researchSubjects.Count);
        Assert.All(researchSubjects, s => Assert.Equal(2, first.Count(r => r.GetProperty("subject").GetString() == s)));

        // The other grant of the same business: three pseudonyms, none shared with the first grant.
        var other = await ReadAllAsync(business, development);
        var developmentSubjects = other.Select(r => r.GetProperty("subject").GetString()!).Distinct().ToList();
        Assert.Equal(3, developmentSubjects.Count);
        Assert.Empty(researchSubjects.Intersect(developmentSubjects));

        // A day later is a new fetch of the first grant: the same three pseudonyms, record for record.
        factory.Time.Offset += TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1);
        var fresh = await scenario.FreshBusinessAsync(businessId);
        var again = await ReadAllAsync(fresh, research);
        Assert.Equal(6, again.Count);
        static string Key(System.Text.Json.JsonElement r) => r.GetProperty("observedAt").GetDateTimeOffset().UtcTicks + "|" + r.GetProperty("data").GetProperty("steps").GetInt32();
        var before = first.ToDictionary(Key, r => r.GetProperty("subject").GetString());
        Assert.All(again, r => Assert.Equal(before[Key(r)], r.GetProperty("subject").GetString()));

        // No resident id appears in any page.
        Assert.DoesNotContain(residents, p => string.Join("", first.Concat(other).Select(r => r.GetRawText())).Contains(p.Id.ToString(), StringComparison.OrdinalIgnoreCase));
    }
}
