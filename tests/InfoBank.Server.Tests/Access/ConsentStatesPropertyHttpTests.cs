using System.Net;
using System.Net.Http.Json;
using InfoBank.Core.Access;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static InfoBank.Server.Tests.Access.AccessScenario;

namespace InfoBank.Server.Tests.Access;

/// <summary>
/// The issue's property over HTTP: for residents in random states (seeded, a fixed number of cases),
/// the residents a business receives through every page of GET /grants/{id}/records are exactly
/// those the reference model allows — an active consent now (not withdrawn), enrolled and not erased,
/// with data of an approved category inside the grant's data window — each with all such records.
/// (Consent expiry coincides with the grant's own end over HTTP, which answers 403; expiry of the
/// consent alone is covered by the Core property tests.)
/// </summary>
public sealed class ConsentStatesPropertyHttpTests(ConsentStatesPropertyHttpTests.Factory factory) : IClassFixture<ConsentStatesPropertyHttpTests.Factory>
{
    public sealed class Factory : InfoBankFactory;

    private enum ConsentState
    {
        Never,
        Active,
        Withdrawn,
        WithdrawnThenGivenAgain,
    }

    private enum Data
    {
        InWindow,
        BeforeWindow,
        UnapprovedCategory,
        None,
    }

    private sealed record Resident(Person Person, ConsentState Consent, Data Data, bool Erased, bool Enrolled)
    {
        // The model, from the rules rather than the implementation.
        public bool Allowed => Consent is ConsentState.Active or ConsentState.WithdrawnThenGivenAgain && Enrolled && !Erased && Data == Data.InWindow;
    }

    [Theory]
    [InlineData(20261122)]
    [InlineData(7)]
    [InlineData(1234)]
    public async Task Residents_returned_are_exactly_those_the_model_allows(int seed)
    {
        var random = new Random(seed);
        var scenario = new AccessScenario(factory);
        var (grantId, clientId, business) = await scenario.ApprovedGrantAsync();
        var offer = await scenario.OfferOfAsync(grantId);
        var (sourceId, sourceToken) = await factory.ClientTokenAsync(ClientKind.DataSource);
        using var source = factory.CreateClientWithToken(sourceToken);

        var residents = new List<Resident>();
        for (var i = 0; i < 7; i++)
        {
            // Someone who never enrolled can neither consent nor link a source.
            var enrolled = random.Next(6) != 0;
            var resident = new Resident(await scenario.ResidentAsync(enrolled), (ConsentState)random.Next(4), enrolled ? (Data)random.Next(4) : Data.None,
                enrolled && random.Next(6) == 0, enrolled);
            residents.Add(resident);
            switch (resident.Data)
            {
                case Data.InWindow:
                    await DepositStepsAsync(source, sourceId, resident.Person, days: 3);
                    break;
                case Data.BeforeWindow:
                    await DepositStepsAsync(source, sourceId, resident.Person, days: 3, at: DateTimeOffset.UtcNow.AddDays(-2));
                    break;
                case Data.UnapprovedCategory:
                    var reference = await LinkAsync(resident.Person, sourceId, "search.query");
                    await JsonOf(await source.PostAsJsonAsync("/api/v1/records", new
                    {
                        records = new[] { new { resident = reference, category = "search.query", observedAt = DateTimeOffset.UtcNow, payload = new { query = "walking routes", portal = "sapporo-city-portal" }, sourceRecordId = $"{resident.Person.Id:N}-q" } },
                    }), HttpStatusCode.OK);
                    break;
            }
            if (resident.Consent != ConsentState.Never && !resident.Enrolled)
            {
                // Consent is refused to someone who never agreed to the custody terms.
                await JsonOf(await resident.Person.Http.PostAsJsonAsync("/api/v1/me/consents", new
                {
                    offerId = offer.OfferId,
                    noticeVersion = offer.NoticeVersion,
                    noticeHash = offer.NoticeHash,
                    specialCareItems = offer.Notice.SpecialCareItems,
                }), HttpStatusCode.Conflict);
            }
            else if (resident.Consent != ConsentState.Never)
            {
                var consentId = await ConsentAsync(resident.Person, offer);
                if (resident.Consent != ConsentState.Active)
                {
                    await JsonOf(await resident.Person.Http.DeleteAsync($"/api/v1/me/consents/{consentId}"), HttpStatusCode.OK);
                }
                if (resident.Consent == ConsentState.WithdrawnThenGivenAgain)
                {
                    await ConsentAsync(resident.Person, offer);
                }
            }
            if (resident.Erased)
            {
                await JsonOf(await factory.EraseAsync(resident.Person.Http, resident.Person.Id), HttpStatusCode.OK);
            }
        }

        // Small pages, so residents are cut across pages and batches.
        var records = await ReadAllAsync(business, grantId, pageSize: 2);

        var pseudonyms = factory.Services.GetRequiredService<RecipientPseudonyms>();
        var expected = residents.Where(r => r.Allowed).ToDictionary(r => pseudonyms.For(clientId, grantId, r.Person.Id), r => r);
        var returned = records.GroupBy(r => r.GetProperty("subject").GetString()!).ToDictionary(g => g.Key, g => g.Count());
        var states = string.Join("; ", residents.Select(r => $"{r.Consent}/{r.Data}/{(r.Erased ? "erased" : r.Enrolled ? "enrolled" : "not enrolled")}"));
        Assert.True(expected.Keys.ToHashSet().SetEquals(returned.Keys), $"seed {seed}: {states}");
        Assert.All(returned.Values, count => Assert.Equal(3, count));
        Assert.All(records, r => Assert.Equal("steps.daily", r.GetProperty("category").GetString()));
    }
}
