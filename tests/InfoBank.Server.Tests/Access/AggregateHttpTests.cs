using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using static InfoBank.Server.Tests.Access.AccessScenario;

namespace InfoBank.Server.Tests.Access;

/// <summary>
/// Aggregates end to end over HTTP, on a server whose clock the test moves: residents consent to two
/// fitness clubs' aggregate grants (k = 10) and walk; the week closes and settles; each business's
/// first aggregate query releases the week — for one club 12 residents (figures given), for the other
/// 3 (suppressed, and the answer says so). Unapproved fields and dimensions are refused and recorded.
/// </summary>
public sealed class AggregateHttpTests(AggregateHttpTests.Factory factory) : IClassFixture<AggregateHttpTests.Factory>
{
    public sealed class Factory : ClockedInfoBankFactory;

    private static object Query(params object[] measures) => new { category = "steps.daily", groupBy = new[] { "week" }, measures };

    [Fact]
    public async Task Consents_then_weekly_release_then_aggregates_with_k_suppression_stated()
    {
        var scenario = new AccessScenario(factory);
        var (popular, popularId, _) = await scenario.ApprovedGrantAsync("fitness-club");
        var (small, smallId, _) = await scenario.ApprovedGrantAsync("fitness-club");
        var (popularOffer, smallOffer) = (await scenario.OfferOfAsync(popular), await scenario.OfferOfAsync(small));
        var (sourceId, sourceToken) = await factory.ClientTokenAsync(ClientKind.DataSource);
        using var source = factory.CreateClientWithToken(sourceToken);

        var residents = new List<Person>();
        for (var i = 0; i < 12; i++)
        {
            var resident = await scenario.ResidentAsync();
            residents.Add(resident);
            await DepositStepsAsync(source, sourceId, resident, days: 3);
            await ConsentAsync(resident, popularOffer);
            if (i < 3)
            {
                await ConsentAsync(resident, smallOffer);
            }
        }
        // Someone who walked but did not consent to either.
        await DepositStepsAsync(source, sourceId, await scenario.ResidentAsync(), days: 3);

        // Before the week has closed and settled there is nothing to answer from.
        using (var early = await scenario.FreshBusinessAsync(popularId))
        {
            var none = await JsonOf(await early.PostAsJsonAsync($"/api/v1/grants/{popular}/aggregates", Query(new { function = "count" })), HttpStatusCode.OK);
            Assert.Empty(none.GetProperty("groups").EnumerateArray());
            Assert.Empty(none.GetProperty("releasedBuckets").EnumerateArray());
        }

        factory.Time.Offset = TimeSpan.FromDays(9 + 31); // past the week's close + 48 h, and a month on (monthly fetches)
        using var business = await scenario.FreshBusinessAsync(popularId);
        using var smallBusiness = await scenario.FreshBusinessAsync(smallId);

        // Unapproved fields and dimensions, and k-circumvention by narrowing, are refused before anything is released or counted.
        // Well-formed queries the grant did not approve are the grant's refusal (422), told apart by type.
        var badField = await JsonOf(await business.PostAsJsonAsync($"/api/v1/grants/{popular}/aggregates", Query(new { function = "mean", field = "distanceMeters" })), HttpStatusCode.UnprocessableEntity);
        Assert.Equal("/problems/aggregate-not-approved", badField.GetProperty("type").GetString());
        Assert.Contains("distanceMeters", badField.GetProperty("errors").GetProperty("measures[0].field")[0].GetString());
        var badDimension = await JsonOf(await business.PostAsJsonAsync($"/api/v1/grants/{popular}/aggregates",
            new { category = "steps.daily", groupBy = new[] { "ward" }, measures = new[] { new { function = "count" } } }), HttpStatusCode.UnprocessableEntity);
        Assert.True(badDimension.GetProperty("errors").TryGetProperty("groupBy[0]", out _));
        var badCategory = await JsonOf(await business.PostAsJsonAsync($"/api/v1/grants/{popular}/aggregates",
            new { category = "body.composition", measures = new[] { new { function = "count" } } }), HttpStatusCode.UnprocessableEntity);
        Assert.Equal("/problems/aggregate-not-approved", badCategory.GetProperty("type").GetString());
        // No category at all cannot be read as a query: 400.
        var noCategory = await JsonOf(await business.PostAsJsonAsync($"/api/v1/grants/{popular}/aggregates",
            new { measures = new[] { new { function = "count" } } }), HttpStatusCode.BadRequest);
        Assert.Equal("/problems/malformed-request", noCategory.GetProperty("type").GetString());

        var answer = await JsonOf(await business.PostAsJsonAsync($"/api/v1/grants/{popular}/aggregates",
            Query(new { function = "count" }, new { function = "mean", field = "steps" }, new { function = "median", field = "activeMinutes" })), HttpStatusCode.OK);
        Assert.Equal(10, answer.GetProperty("k").GetInt32());
        Assert.Contains("fewer than k", answer.GetProperty("suppression").GetString());
        var group = Assert.Single(answer.GetProperty("groups").EnumerateArray());
        Assert.False(group.GetProperty("suppressed").GetBoolean());
        var week = group.GetProperty("key").GetProperty("week").GetString();
        Assert.Contains(week, answer.GetProperty("releasedBuckets").EnumerateArray().Select(b => b.GetString()));
        Assert.Equal(36, group.GetProperty("values").GetProperty("count").GetDouble());
        Assert.Equal(8001, group.GetProperty("values").GetProperty("mean:steps").GetDouble());
        // Estimated from bins, not exact (an exact median is one resident's own value): within 2^(1/8) of 30.
        Assert.InRange(group.GetProperty("values").GetProperty("median:activeMinutes").GetDouble(), 30 / Math.Pow(2, 0.125), 30 * Math.Pow(2, 0.125));
        Assert.Equal(0, answer.GetProperty("suppressedGroups").GetInt32());

        // Three residents are fewer than k: the group is there, suppressed, without figures, and the answer says why.
        var suppressed = await JsonOf(await smallBusiness.PostAsJsonAsync($"/api/v1/grants/{small}/aggregates",
            Query(new { function = "count" }, new { function = "mean", field = "steps" })), HttpStatusCode.OK);
        var hidden = Assert.Single(suppressed.GetProperty("groups").EnumerateArray());
        Assert.True(hidden.GetProperty("suppressed").GetBoolean());
        Assert.All(hidden.GetProperty("values").EnumerateObject(), v => Assert.Equal(JsonValueKind.Null, v.Value.ValueKind));
        Assert.Equal(1, suppressed.GetProperty("suppressedGroups").GetInt32());
        Assert.Contains("suppressed", suppressed.GetProperty("suppression").GetString());

        // A second query in the same month is over the approved frequency.
        var again = await business.PostAsJsonAsync($"/api/v1/grants/{popular}/aggregates", Query(new { function = "count" }));
        await JsonOf(again, HttpStatusCode.TooManyRequests);
        Assert.NotNull(again.Headers.RetryAfter);

        // The committee sees the releases: provision records for the 12 in the open cell, none for the suppressed one.
        var (_, committeeToken) = await factory.SignInAsync(AccountKind.Committee, CommitteeRoles.Member);
        using var committee = factory.CreateClientWithToken(committeeToken);
        var log = (await committee.GetFromJsonAsync<JsonElement>($"/api/v1/committee/access-log?grantId={popular}&limit=50")).GetProperty("items").EnumerateArray().ToList();
        Assert.Single(log, e => e.GetProperty("kind").GetString() == "aggregate-release" && e.GetProperty("residents").GetInt32() == 12);
        var refused = log.Where(e => e.GetProperty("outcome").GetString() == "refused").ToList();
        Assert.Equal(4, refused.Count);
        Assert.Contains(refused, e => e.GetProperty("reasons").EnumerateArray().Any(r => r.GetString()!.Contains("distanceMeters")));
        Assert.All(refused, e => Assert.True(e.GetProperty("auditSequence").GetInt64() >= 0));
        var smallLog = (await committee.GetFromJsonAsync<JsonElement>($"/api/v1/committee/access-log?grantId={small}&limit=50")).GetProperty("items").EnumerateArray().ToList();
        var smallReleases = smallLog.Where(e => e.GetProperty("kind").GetString() == "aggregate-release").ToList();
        Assert.NotEmpty(smallReleases);
        Assert.All(smallReleases, e => Assert.Equal(0, e.GetProperty("residents").GetInt32()));

        // Offline, the releases' contributors are each covered by a consent the release cites.
        var report = await scenario.VerifyExportedLogAsync();
        Assert.Null(report.Failure);
        Assert.Empty(report.Findings);
        await using var db = await factory.Connections.OpenAsync();
        var releases = (await Dapper.SqlMapper.QueryAsync<string>(db, "SELECT payload FROM audit_log WHERE kind = 'access.allowed' AND payload LIKE '%aggregate-release%'")).ToList();
        Assert.Contains(releases, p => JsonDocument.Parse(p).RootElement.GetProperty("details").GetProperty("consents").GetArrayLength() == 12);
    }

    [Fact]
    public async Task A_stale_cursor_is_refused_and_the_attempt_recorded()
    {
        var scenario = new AccessScenario(factory);
        var (grantId, clientId, business) = await scenario.ApprovedGrantAsync();
        var offer = await scenario.OfferOfAsync(grantId);
        var (sourceId, sourceToken) = await factory.ClientTokenAsync(ClientKind.DataSource);
        using var source = factory.CreateClientWithToken(sourceToken);
        var resident = await scenario.ResidentAsync();
        await DepositStepsAsync(source, sourceId, resident, days: 2, at: factory.Time.GetUtcNow());
        await ConsentAsync(resident, offer);

        var first = await JsonOf(await business.GetAsync($"/api/v1/grants/{grantId}/records?limit=1"), HttpStatusCode.OK);
        var next = first.GetProperty("next").GetString();
        factory.Time.Offset += TimeSpan.FromMinutes(20); // cursors live 15 minutes
        using var later = await scenario.FreshBusinessAsync(clientId);
        var stale = await JsonOf(await later.GetAsync(next), HttpStatusCode.BadRequest);
        Assert.Contains("expired", stale.GetProperty("errors").GetProperty("cursor")[0].GetString());

        var (_, committeeToken) = await factory.SignInAsync(AccountKind.Committee, CommitteeRoles.Member);
        using var committee = factory.CreateClientWithToken(committeeToken);
        var log = (await committee.GetFromJsonAsync<JsonElement>($"/api/v1/committee/access-log?grantId={grantId}")).GetProperty("items").EnumerateArray().ToList();
        var refused = Assert.Single(log, e => e.GetProperty("outcome").GetString() == "refused");
        Assert.Contains("cursor Expired", refused.GetProperty("reasons")[0].GetString());
        Assert.True(refused.GetProperty("auditSequence").GetInt64() >= 0);
    }

}
