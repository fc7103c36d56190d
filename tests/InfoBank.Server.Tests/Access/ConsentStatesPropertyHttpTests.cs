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
/// the records a business receives through every page of GET /grants/{id}/records are exactly those
/// the reference model allows — from a resident with an active consent now (not withdrawn), enrolled
/// and not erased, every record of an approved category inside the grant's data window that was
/// observed inside one of their consented periods: from the day they first consented (the notice's
/// look-back is 0) until they withdrew, and again from the day they consented again; never before the
/// first consent, never while withdrawn. (Consent expiry coincides with the grant's own end over HTTP,
/// which answers 403; expiry of the consent alone is covered by the Core property tests.)
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

    /// <summary>Data that is never provided whatever the consent: outside the grant's window, or of a category it did not approve.</summary>
    private enum Extra
    {
        None,
        BeforeWindow,
        UnapprovedCategory,
    }

    /// <summary>When, relative to the resident's consents, a step record was observed.</summary>
    private enum Phase
    {
        BeforeFirstConsent,
        WhileFirstConsent,
        WhileWithdrawn,
        AfterConsentingAgain,
    }

    private sealed record Resident(Person Person, ConsentState Consent, Extra Extra, IReadOnlySet<Phase> Phases, bool Erased, bool Enrolled)
    {
        // The model, from the rules rather than the implementation: who may be provided now, and
        // which of their records lie in a consented period.
        public bool Allowed => Consent is ConsentState.Active or ConsentState.WithdrawnThenGivenAgain && Enrolled && !Erased;

        public int Provided => Allowed ? Phases.Count(p => p is Phase.WhileFirstConsent or Phase.AfterConsentingAgain) : 0;
    }

    private static bool Happens(Phase phase, ConsentState consent) => phase switch
    {
        Phase.BeforeFirstConsent => true,
        Phase.WhileFirstConsent => consent != ConsentState.Never,
        Phase.WhileWithdrawn => consent is ConsentState.Withdrawn or ConsentState.WithdrawnThenGivenAgain,
        _ => consent == ConsentState.WithdrawnThenGivenAgain,
    };

    [Theory]
    [InlineData(20261122)]
    [InlineData(7)]
    [InlineData(1234)]
    public async Task Records_returned_are_exactly_those_the_model_allows(int seed)
    {
        var random = new Random(seed);
        var scenario = new AccessScenario(factory);
        var (grantId, clientId, business) = await scenario.ApprovedGrantAsync(
            Applications.ApplicationServiceTests<SqliteFixture>.Example("health-research") with { LookbackDays = 0 });
        var offer = await scenario.OfferOfAsync(grantId);
        var (sourceId, sourceToken) = await factory.ClientTokenAsync(ClientKind.DataSource);
        using var source = factory.CreateClientWithToken(sourceToken);

        var residents = new List<Resident>();
        for (var i = 0; i < 7; i++)
        {
            // Someone who never enrolled can neither consent nor link a source.
            var enrolled = random.Next(6) != 0;
            var consent = (ConsentState)random.Next(4);
            // Of the phases this resident's history has, each at random.
            var phases = enrolled ? Enum.GetValues<Phase>().Where(p => Happens(p, consent) && random.Next(2) == 0).ToHashSet() : [];
            var resident = new Resident(await scenario.ResidentAsync(enrolled), consent, enrolled ? (Extra)random.Next(3) : Extra.None,
                phases, enrolled && random.Next(6) == 0, enrolled);
            residents.Add(resident);
            switch (resident.Extra)
            {
                case Extra.BeforeWindow:
                    await DepositStepsAsync(source, sourceId, resident.Person, days: 1, at: DateTimeOffset.UtcNow.AddDays(-2));
                    break;
                case Extra.UnapprovedCategory:
                    var reference = await LinkAsync(resident.Person, sourceId, "search.query");
                    await JsonOf(await source.PostAsJsonAsync("/api/v1/records", new
                    {
                        records = new[] { new { resident = reference, category = "search.query", observedAt = DateTimeOffset.UtcNow, payload = new { query = "walking routes", portal = "sapporo-city-portal" }, sourceRecordId = $"{resident.Person.Id:N}-q" } },
                    }), HttpStatusCode.OK);
                    break;
            }

            // A record observed now, if the resident's data has this phase: each consent step below
            // happens after it, so it lies on the side of that step the phase names.
            async Task ObserveAsync(Phase phase)
            {
                if (resident.Phases.Contains(phase))
                {
                    await DepositStepsAsync(source, sourceId, resident.Person, days: 1, at: DateTimeOffset.UtcNow);
                }
            }

            await ObserveAsync(Phase.BeforeFirstConsent);
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
                await ObserveAsync(Phase.WhileFirstConsent);
                if (resident.Consent != ConsentState.Active)
                {
                    await JsonOf(await resident.Person.Http.DeleteAsync($"/api/v1/me/consents/{consentId}"), HttpStatusCode.OK);
                    await ObserveAsync(Phase.WhileWithdrawn);
                }
                if (resident.Consent == ConsentState.WithdrawnThenGivenAgain)
                {
                    await ConsentAsync(resident.Person, offer);
                    await ObserveAsync(Phase.AfterConsentingAgain);
                }
            }
            if (resident.Erased)
            {
                await JsonOf(await factory.EraseAsync(resident.Person.Http, resident.Person.Id), HttpStatusCode.OK);
            }
        }

        // Small pages, so residents are cut across pages and batches, and filtered records fall between pages.
        var records = await ReadAllAsync(business, grantId, limit: 2);

        var pseudonyms = factory.Services.GetRequiredService<RecipientPseudonyms>();
        var expected = residents.Where(r => r.Provided > 0).ToDictionary(r => pseudonyms.For(clientId, grantId, r.Person.Id), r => r.Provided);
        var returned = records.GroupBy(r => r.GetProperty("subject").GetString()!).ToDictionary(g => g.Key, g => g.Count());
        var states = string.Join("; ", residents.Select(r =>
            $"{r.Consent}/{r.Extra}/[{string.Join(",", r.Phases.Order())}]/{(r.Erased ? "erased" : r.Enrolled ? "enrolled" : "not enrolled")}"));
        Assert.True(expected.Count == returned.Count && expected.All(e => returned.GetValueOrDefault(e.Key) == e.Value), $"seed {seed}: {states}; expected {string.Join(", ", residents.Select(r => r.Provided))}; returned {string.Join(", ", residents.Select(r => returned.GetValueOrDefault(pseudonyms.For(clientId, grantId, r.Person.Id))))}");
        Assert.Equal(records.Count, records.Select(r => (r.GetProperty("subject").GetString(), r.GetProperty("observedAt").GetDateTimeOffset())).Distinct().Count());
        Assert.All(records, r => Assert.Equal("steps.daily", r.GetProperty("category").GetString()));
    }
}
