using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InfoBank.Core.Applications;
using InfoBank.Core.Consent;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Tests.Applications;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static InfoBank.Server.Tests.Access.AccessScenario;

namespace InfoBank.Server.Tests.Access;

/// <summary>
/// The offer's data window over HTTP on a server whose clock the test moves: a resident consents,
/// withdraws, and consents again; the recipient receives what was observed while a consent was in
/// force (plus the notice's look-back before the first consent) and nothing from before it or from
/// the gap. The notice and the receipt state the window; a consent naming another window is refused.
/// </summary>
public sealed class DataWindowHttpTests(DataWindowHttpTests.Factory factory) : IClassFixture<DataWindowHttpTests.Factory>
{
    public sealed class Factory : ClockedInfoBankFactory;

    private static ApplicationSpec Research(int lookbackDays) =>
        ApplicationServiceTests<SqliteFixture>.Example("health-research") with { LookbackDays = lookbackDays };

    private Task<Member> ResidentAsync() => new AccessScenario(factory).MemberAsync();

    private Task<HttpClient> SignInAsync(string username) => new AccessScenario(factory).SignInAsync(username);

    private Task<Person> PersonAsync(Member resident) => new AccessScenario(factory).PersonAsync(resident);

    private async Task DepositAsync(CreatedClient source, Member resident, params DateTimeOffset[] observed)
    {
        using var deposit = factory.CreateClientWithToken(await factory.ClientCredentialsTokenAsync(source.ClientId, source.ClientSecret));
        var residentRef = await LinkAsync(await PersonAsync(resident), source.ClientId, "steps.daily");
        var records = observed.Select(at => new
        {
            resident = residentRef,
            category = "steps.daily",
            observedAt = at,
            payload = new { steps = 8000, distanceMeters = 5600.5, activeMinutes = 30 },
            sourceRecordId = $"{resident.Id:N}-{at.UtcTicks}",
        }).ToArray();
        await JsonOf(await deposit.PostAsJsonAsync("/api/v1/records", new { records }), HttpStatusCode.OK);
    }

    private void Advance(TimeSpan by) => factory.Time.Offset += by;

    // Observation times in whole seconds: PostgreSQL keeps microseconds, not .NET's 100 ns ticks.
    private DateTimeOffset Now() => DateTimeOffset.FromUnixTimeSeconds(factory.Time.GetUtcNow().ToUnixTimeSeconds());

    private static async Task<JsonElement> ReceiptAsync(Person resident, Guid consentId) =>
        (await JsonOf(await resident.Http.GetAsync($"/api/v1/me/consents/{consentId}/receipt"), HttpStatusCode.OK)).GetProperty("receipt");

    [Fact]
    public async Task From_the_day_you_consent_nothing_before_the_first_consent_nor_from_the_gap_is_provided()
    {
        var scenario = new AccessScenario(factory);
        var (grantId, businessId, _) = await scenario.ApprovedGrantAsync(Research(lookbackDays: 0));
        var offer = await scenario.OfferOfAsync(grantId);
        Assert.Equal(0, offer.Notice.LookbackDays);
        var published = await JsonOf(await factory.CreateClient().GetAsync($"/api/v1/offers/{offer.OfferId}"), HttpStatusCode.OK);
        Assert.Equal(0, published.GetProperty("dataWindow").GetProperty("lookbackDays").GetInt32());
        Assert.Contains("同意した日以降", published.GetProperty("dataWindow").GetProperty("text").GetProperty("ja").GetString());
        Assert.Contains("from the day you consent", published.GetProperty("dataWindow").GetProperty("text").GetProperty("en").GetString());
        var source = await factory.RegisterClientAsync(ClientKind.DataSource);
        var resident = await ResidentAsync();

        // Observed after the approval but before the resident consents.
        Advance(TimeSpan.FromDays(1));
        var before = Now().AddHours(-2);
        await DepositAsync(source, resident, before, before.AddMinutes(1));
        var first = await ConsentAsync(await PersonAsync(resident), offer);
        var firstGiven = factory.Time.GetUtcNow();

        // While the first consent is in force; then the resident withdraws.
        Advance(TimeSpan.FromDays(1));
        var during = Now().AddHours(-2);
        await DepositAsync(source, resident, during, during.AddMinutes(1));
        await JsonOf(await (await PersonAsync(resident)).Http.DeleteAsync($"/api/v1/me/consents/{first}"), HttpStatusCode.OK);

        // Observed while withdrawn; then the resident consents again.
        Advance(TimeSpan.FromDays(1));
        var gap = Now().AddHours(-2);
        await DepositAsync(source, resident, gap, gap.AddMinutes(1));
        var second = await ConsentAsync(await PersonAsync(resident), offer);
        var secondGiven = factory.Time.GetUtcNow();

        Advance(TimeSpan.FromDays(1));
        var again = Now().AddHours(-2);
        await DepositAsync(source, resident, again, again.AddMinutes(1));

        // One record a page, so the filtered-out records sit between pages: nothing skipped or repeated.
        var business = await scenario.FreshBusinessAsync(businessId);
        var records = await ReadAllAsync(business, grantId, limit: 1);
        Assert.Equal([during, during.AddMinutes(1), again, again.AddMinutes(1)], records.Select(r => r.GetProperty("observedAt").GetDateTimeOffset()).ToList());

        // Each receipt states its window: the first from the moment it was given (no look-back), the
        // second from its own moment, not reaching back over the withdrawal.
        var person = await PersonAsync(resident);
        var firstWindow = (await ReceiptAsync(person, first)).GetProperty("dataWindow");
        Assert.Equal(0, firstWindow.GetProperty("lookbackDays").GetInt32());
        Assert.True(Math.Abs((firstWindow.GetProperty("from").GetDateTimeOffset() - firstGiven).TotalSeconds) < 30);
        var secondWindow = (await ReceiptAsync(person, second)).GetProperty("dataWindow");
        Assert.True(Math.Abs((secondWindow.GetProperty("from").GetDateTimeOffset() - secondGiven).TotalSeconds) < 30);
        Assert.True(secondWindow.GetProperty("from").GetDateTimeOffset() > gap.AddMinutes(1));
        Assert.True((await scenario.VerifyExportedLogAsync()).Ok);
    }

    [Fact]
    public async Task A_look_back_reaches_before_the_first_consent_only_and_never_over_a_withdrawal()
    {
        var scenario = new AccessScenario(factory);
        var (grantId, businessId, _) = await scenario.ApprovedGrantAsync(Research(lookbackDays: 30));
        var offer = await scenario.OfferOfAsync(grantId);
        var published = await JsonOf(await factory.CreateClient().GetAsync($"/api/v1/offers/{offer.OfferId}"), HttpStatusCode.OK);
        Assert.Equal(30, published.GetProperty("dataWindow").GetProperty("lookbackDays").GetInt32());
        Assert.Contains("同意の30日前から", published.GetProperty("dataWindow").GetProperty("text").GetProperty("ja").GetString());
        Assert.Contains("the 30 days before you consent", published.GetProperty("dataWindow").GetProperty("text").GetProperty("en").GetString());
        var source = await factory.RegisterClientAsync(ClientKind.DataSource);
        var resident = await ResidentAsync();

        // Forty days after the approval: one record older than the look-back, one inside it.
        Advance(TimeSpan.FromDays(40));
        var now = Now();
        var (tooOld, lookedBack) = (now.AddDays(-35), now.AddDays(-20));
        await DepositAsync(source, resident, tooOld, lookedBack);
        var first = await ConsentAsync(await PersonAsync(resident), offer);
        var firstGiven = factory.Time.GetUtcNow();

        Advance(TimeSpan.FromDays(2));
        var during = Now().AddHours(-1);
        await DepositAsync(source, resident, during);
        await JsonOf(await (await PersonAsync(resident)).Http.DeleteAsync($"/api/v1/me/consents/{first}"), HttpStatusCode.OK);

        // Five days withdrawn: well inside 30 days of the next consent, and still never provided.
        Advance(TimeSpan.FromDays(5));
        var gap = Now().AddDays(-2);
        await DepositAsync(source, resident, gap);
        var second = await ConsentAsync(await PersonAsync(resident), offer);
        Advance(TimeSpan.FromDays(1));
        var again = Now().AddHours(-1);
        await DepositAsync(source, resident, again);

        var business = await scenario.FreshBusinessAsync(businessId);
        var records = await ReadAllAsync(business, grantId, limit: 2);
        Assert.Equal([lookedBack, during, again], records.Select(r => r.GetProperty("observedAt").GetDateTimeOffset()).ToList());

        var person = await PersonAsync(resident);
        var firstWindow = (await ReceiptAsync(person, first)).GetProperty("dataWindow");
        Assert.Equal(30, firstWindow.GetProperty("lookbackDays").GetInt32());
        Assert.True(Math.Abs((firstWindow.GetProperty("from").GetDateTimeOffset() - firstGiven.AddDays(-30)).TotalSeconds) < 30);
        var secondWindow = (await ReceiptAsync(person, second)).GetProperty("dataWindow");
        Assert.Equal(30, secondWindow.GetProperty("lookbackDays").GetInt32());
        Assert.True(secondWindow.GetProperty("from").GetDateTimeOffset() > gap);
    }

    [Fact]
    public async Task An_aggregate_release_counts_only_records_observed_in_consented_periods()
    {
        var scenario = new AccessScenario(factory);
        var (grantId, businessId, _) = await scenario.ApprovedGrantAsync(
            ApplicationServiceTests<SqliteFixture>.Example("fitness-club") with { LookbackDays = 0 });
        var offer = await scenario.OfferOfAsync(grantId);
        var (sourceId, sourceToken) = await factory.ClientTokenAsync(ClientKind.DataSource);
        using var source = factory.CreateClientWithToken(sourceToken);

        // Ten residents (k = 10), each with a record from before consenting and one while consented;
        // two of them withdraw, walk while withdrawn, consent again and walk again. All in one week.
        for (var i = 0; i < 10; i++)
        {
            var resident = await scenario.ResidentAsync();
            await DepositStepsAsync(source, sourceId, resident, days: 1, at: factory.Time.GetUtcNow());
            var consentId = await ConsentAsync(resident, offer);
            await DepositStepsAsync(source, sourceId, resident, days: 1, at: factory.Time.GetUtcNow());
            if (i < 2)
            {
                await JsonOf(await resident.Http.DeleteAsync($"/api/v1/me/consents/{consentId}"), HttpStatusCode.OK);
                await DepositStepsAsync(source, sourceId, resident, days: 1, at: factory.Time.GetUtcNow());
                await ConsentAsync(resident, offer);
                await DepositStepsAsync(source, sourceId, resident, days: 1, at: factory.Time.GetUtcNow());
            }
        }

        // Past the week's close and settling, and a month on (monthly fetches).
        Advance(TimeSpan.FromDays(9 + 31));
        using var business = await scenario.FreshBusinessAsync(businessId);
        var answer = await JsonOf(await business.PostAsJsonAsync($"/api/v1/grants/{grantId}/aggregates",
            new { category = "steps.daily", groupBy = new[] { "week" }, measures = new[] { new { function = "count" } } }), HttpStatusCode.OK);
        var groups = answer.GetProperty("groups").EnumerateArray().ToList();
        Assert.All(groups, g => Assert.False(g.GetProperty("suppressed").GetBoolean()));
        Assert.Equal(10 + 2, groups.Sum(g => g.GetProperty("values").GetProperty("count").GetDouble()));
    }

    [Fact]
    public async Task A_consent_naming_a_window_the_offer_does_not_offer_is_refused_and_records_nothing()
    {
        var scenario = new AccessScenario(factory);
        var (grantId, _, _) = await scenario.ApprovedGrantAsync(Research(lookbackDays: 0));
        var offer = await scenario.OfferOfAsync(grantId);
        var resident = await ResidentAsync();
        var person = await PersonAsync(resident);

        var refused = await JsonOf(await person.Http.PostAsJsonAsync("/api/v1/me/consents", new
        {
            offerId = offer.OfferId,
            noticeVersion = offer.NoticeVersion,
            noticeHash = offer.NoticeHash,
            specialCareItems = offer.Notice.SpecialCareItems,
            lookbackDays = 30,
        }), HttpStatusCode.UnprocessableEntity);
        Assert.Equal("/problems/consent-window-not-offered", refused.GetProperty("type").GetString());
        var documented = await JsonOf(await factory.CreateClient().GetAsync("/problems/consent-window-not-offered"), HttpStatusCode.OK);
        Assert.Equal(422, documented.GetProperty("status").GetInt32());
        Assert.Equal(0, (await JsonOf(await person.Http.GetAsync("/api/v1/me/consents"), HttpStatusCode.OK)).GetProperty("items").GetArrayLength());

        // Naming the offer's own window is the same as omitting it.
        var given = await JsonOf(await person.Http.PostAsJsonAsync("/api/v1/me/consents", new
        {
            offerId = offer.OfferId,
            noticeVersion = offer.NoticeVersion,
            noticeHash = offer.NoticeHash,
            specialCareItems = offer.Notice.SpecialCareItems,
            lookbackDays = 0,
        }), HttpStatusCode.Created);
        Assert.Equal(0, given.GetProperty("receipt").GetProperty("receipt").GetProperty("dataWindow").GetProperty("lookbackDays").GetInt32());
    }

    [Fact]
    public async Task An_application_with_a_look_back_out_of_range_is_refused_with_its_own_type_and_stores_nothing()
    {
        var client = await factory.RegisterClientAsync(ClientKind.Business);
        using var business = factory.CreateClientWithToken(await factory.ClientCredentialsTokenAsync(client.ClientId, client.ClientSecret));
        foreach (var days in new[] { -1, NoticeDataWindow.MaxLookbackDays + 1 })
        {
            var refused = await JsonOf(await business.PostAsJsonAsync("/api/v1/applications", Research(days), Web), HttpStatusCode.UnprocessableEntity);
            Assert.Equal("/problems/lookback-out-of-range", refused.GetProperty("type").GetString());
            Assert.True(refused.GetProperty("errors").TryGetProperty("lookbackDays", out _));
        }
        Assert.Equal(0, (await JsonOf(await business.GetAsync("/api/v1/applications"), HttpStatusCode.OK)).GetProperty("items").GetArrayLength());

        // The longest look-back offered is accepted, and omitting it means 0.
        await JsonOf(await business.PostAsJsonAsync("/api/v1/applications", Research(NoticeDataWindow.MaxLookbackDays), Web), HttpStatusCode.Created);
        var spec = JsonSerializer.SerializeToNode(Research(0), Web)!.AsObject();
        spec.Remove("lookbackDays");
        var created = await JsonOf(await business.PostAsJsonAsync("/api/v1/applications", spec), HttpStatusCode.Created);
        Assert.Equal(0, created.GetProperty("application").GetProperty("lookbackDays").GetInt32());
    }
}
