using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using InfoBank.Core.Audit;
using InfoBank.Core.Consent;
using InfoBank.Server.Features.Applications;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Tests.Applications;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static InfoBank.Server.Tests.Access.AccessScenario;

namespace InfoBank.Server.Tests.Access;

/// <summary>
/// The whole path over HTTP with real tokens: a business applies, the committee approves, the
/// offer is published, residents enrol, link a step app that deposits, and consent; the business
/// reads pages; the resident sees the passbook line; one resident withdraws and is absent from the
/// next page; the committee sees every access.
/// </summary>
public sealed class BrokeredAccessHttpTests(BrokeredAccessHttpTests.Factory factory) : IClassFixture<BrokeredAccessHttpTests.Factory>
{
    public sealed class Factory : InfoBankFactory;

    private readonly AccessScenario _scenario = new(factory);

    private Task<(Guid GrantId, string ClientId, HttpClient Business)> ApprovedGrantAsync() => _scenario.ApprovedGrantAsync();

    private Task<OfferTerms> OfferOfAsync(Guid grantId) => _scenario.OfferOfAsync(grantId);

    private Task<Person> ResidentAsync() => _scenario.ResidentAsync();

    [Fact]
    public async Task Consent_read_passbook_withdraw_next_page_committee_sees_both()
    {
        var (grantId, businessId, business) = await ApprovedGrantAsync();
        var offer = await OfferOfAsync(grantId);
        var (sourceId, sourceToken) = await factory.ClientTokenAsync(ClientKind.DataSource);
        using var source = factory.CreateClientWithToken(sourceToken);

        var residents = new List<Person> { await ResidentAsync(), await ResidentAsync(), await ResidentAsync() };
        foreach (var resident in residents)
        {
            await DepositStepsAsync(source, sourceId, resident, days: 3);
        }
        var consents = new Dictionary<Guid, Guid>();
        foreach (var resident in residents.Take(2))
        {
            consents[resident.Id] = await ConsentAsync(resident, offer);
        }
        var outsider = residents[2];

        var firstResponse = await business.GetAsync($"/api/v1/grants/{grantId}/records?limit=2");
        var first = await JsonOf(firstResponse, HttpStatusCode.OK);
        var firstRecords = first.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(2, firstRecords.Count);
        var subject = firstRecords[0].GetProperty("subject").GetString()!;
        Assert.All(firstRecords, r => Assert.Equal(subject, r.GetProperty("subject").GetString()));
        Assert.All(firstRecords, r => Assert.Equal(["steps"], r.GetProperty("data").EnumerateObject().Select(p => p.Name)));
        Assert.DoesNotContain(residents, r => first.GetRawText().Contains(r.Id.ToString(), StringComparison.OrdinalIgnoreCase));
        var next = first.GetProperty("next").GetString()!;
        Assert.Equal($"<{next}>; rel=\"next\"", Assert.Single(firstResponse.Headers.GetValues("Link")));
        var cursor = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(new Uri("http://x" + next).Query)["cursor"].ToString();
        var tampered = cursor[..10] + (cursor[10] == 'A' ? 'B' : 'A') + cursor[11..];
        var refused = await JsonOf(await business.GetAsync($"/api/v1/grants/{grantId}/records?limit=2&cursor={tampered}"), HttpStatusCode.BadRequest);
        Assert.Equal("/problems/invalid-parameter", refused.GetProperty("type").GetString());
        Assert.Contains("failed authentication", refused.GetProperty("errors").GetProperty("cursor")[0].GetString());

        // Which resident was on the first page? The one whose passbook now has a line.
        Person? seen = null;
        foreach (var resident in residents)
        {
            var passbook = await resident.Http.GetFromJsonAsync<JsonElement>("/api/v1/me/passbook");
            var lines = passbook.GetProperty("items").EnumerateArray().ToList();
            if (lines.Count > 0)
            {
                Assert.Null(seen);
                seen = resident;
                var line = Assert.Single(lines);
                Assert.Equal(businessId, line.GetProperty("business").GetProperty("clientId").GetString());
                Assert.Equal("dpv:AcademicResearch", line.GetProperty("purpose").GetString());
                Assert.Contains("steps.daily.steps", line.GetProperty("items").EnumerateArray().Select(i => i.GetString()));
                Assert.Equal(grantId, line.GetProperty("grantId").GetGuid());
                Assert.Contains(grantId.ToString(), line.GetProperty("approval").GetString());
                Assert.Equal(500, line.GetProperty("points").GetInt32());
                Assert.Equal(2, line.GetProperty("records").GetInt32());
            }
        }
        Assert.NotNull(seen);
        Assert.NotEqual(outsider, seen);

        // The resident on the first page withdraws: the next page has nothing more of theirs.
        await JsonOf(await seen!.Http.DeleteAsync($"/api/v1/me/consents/{consents[seen.Id]}"), HttpStatusCode.OK);
        var second = await JsonOf(await business.GetAsync(next), HttpStatusCode.OK);
        var secondRecords = second.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(2, secondRecords.Count);
        Assert.All(secondRecords, r => Assert.NotEqual(subject, r.GetProperty("subject").GetString()));
        var other = residents.Single(r => r != seen && r != outsider);
        var otherLine = Assert.Single((await other.Http.GetFromJsonAsync<JsonElement>("/api/v1/me/passbook")).GetProperty("items").EnumerateArray());
        Assert.Equal(2, otherLine.GetProperty("records").GetInt32());
        Assert.Empty((await outsider.Http.GetFromJsonAsync<JsonElement>("/api/v1/me/passbook")).GetProperty("items").EnumerateArray());
        Assert.Single((await seen.Http.GetFromJsonAsync<JsonElement>("/api/v1/me/passbook")).GetProperty("items").EnumerateArray());

        // The same pseudonym for the same resident across pages of this recipient.
        var third = await JsonOf(await business.GetAsync(second.GetProperty("next").GetString()), HttpStatusCode.OK);
        var thirdRecords = third.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(secondRecords[0].GetProperty("subject").GetString(), Assert.Single(thirdRecords).GetProperty("subject").GetString());
        Assert.Equal(JsonValueKind.Null, third.GetProperty("next").ValueKind);
        // Points accrue once per fetch, not per page.
        var otherLines = (await other.Http.GetFromJsonAsync<JsonElement>("/api/v1/me/passbook")).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(2, otherLines.Count);
        Assert.Equal(500, (await other.Http.GetFromJsonAsync<JsonElement>("/api/v1/me/passbook")).GetProperty("totalPoints").GetInt64());

        // The committee sees both residents' accesses, with reasons and the audit sequence.
        var (_, committeeToken) = await factory.SignInAsync(AccountKind.Committee, CommitteeRoles.Member);
        using var committee = factory.CreateClientWithToken(committeeToken);
        var log = await committee.GetFromJsonAsync<JsonElement>($"/api/v1/committee/access-log?grantId={grantId}");
        var entries = log.GetProperty("items").EnumerateArray().Where(e => e.GetProperty("outcome").GetString() == "served").ToList();
        Assert.Equal(3, entries.Count);
        Assert.All(entries, e => Assert.Equal(businessId, e.GetProperty("business").GetProperty("clientId").GetString()));
        Assert.All(entries, e => Assert.True(e.GetProperty("auditSequence").GetInt64() >= 0));
        Assert.Equal([1, 1, 1], entries.Select(e => e.GetProperty("residents").GetInt32()));

        // The audit log has the access with the residents by audit pseudonym, before the data left,
        // and nowhere by their internal id.
        await using var db = await factory.Connections.OpenAsync();
        var pseudonym = await factory.Services.GetRequiredService<AuditStore>().PseudonymOfAsync(seen.Id);
        var audited = (await db.QueryAsync<(long Seq, string Payload)>("SELECT seq, payload FROM audit_log WHERE kind = @kind AND payload LIKE @named",
            new { kind = AuditKinds.AccessAllowed, named = $"%\"{pseudonym}\"%" })).ToList();
        Assert.NotEmpty(audited);
        Assert.Equal(0, await db.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM audit_log WHERE payload LIKE @id OR subject_ref = @exact OR actor LIKE @id",
            new { id = $"%{seen.Id}%", exact = seen.Id.ToString() }));
        // Each carries its decision horizon: the log's size when the grant was read, below its own position.
        Assert.All(audited, a => Assert.InRange(JsonDocument.Parse(a.Payload).RootElement.GetProperty("decidedAfter").GetInt64(), 1, a.Seq));

        // And an auditor's offline verification of the whole log finds every page's residents covered
        // by consents that were given and not yet withdrawn when the page was decided.
        var report = await new AccessScenario(factory).VerifyExportedLogAsync();
        Assert.Null(report.Failure);
        Assert.Empty(report.Findings);
        Assert.True(report.CountsByKind.GetValueOrDefault(AuditKinds.AccessAllowed) >= 3);
    }

    [Fact]
    public async Task A_record_that_fails_its_integrity_check_never_reaches_the_business_and_paging_reads_past_it()
    {
        var (grantId, _, business) = await ApprovedGrantAsync();
        var offer = await OfferOfAsync(grantId);
        var (sourceId, sourceToken) = await factory.ClientTokenAsync(ClientKind.DataSource);
        using var source = factory.CreateClientWithToken(sourceToken);
        var residents = new List<Person> { await ResidentAsync(), await ResidentAsync() };
        foreach (var resident in residents)
        {
            await DepositStepsAsync(source, sourceId, resident, days: 3);
            await ConsentAsync(resident, offer);
        }
        // The first resident's middle record (8001 steps) no longer authenticates.
        await using (var connection = await factory.Connections.OpenAsync())
        {
            var rows = (await Dapper.SqlMapper.QueryAsync<(Guid Id, byte[] Ciphertext)>(connection,
                "SELECT id, ciphertext FROM custody_records WHERE resident_id = @residentId ORDER BY observed_at", new { residentId = residents[0].Id })).ToList();
            Assert.Equal(3, rows.Count);
            var (id, ciphertext) = rows[1];
            ciphertext[^1] ^= 0x01;
            await Dapper.SqlMapper.ExecuteAsync(connection, "UPDATE custody_records SET ciphertext = @ciphertext WHERE id = @id", new { ciphertext, id });
        }

        // Pages of two: the first resident's page meets the withheld record and reads on past it.
        var records = await AccessScenario.ReadAllAsync(business, grantId, limit: 2);
        Assert.Equal([8000, 8000, 8001, 8002, 8002], records.Select(r => r.GetProperty("data").GetProperty("steps").GetInt32()).Order().ToArray());
    }

    [Fact]
    public async Task Refusals_are_clear_4xx_and_logged()
    {
        var (grantId, _, business) = await ApprovedGrantAsync();
        var (_, otherToken) = await factory.ClientTokenAsync(ClientKind.Business);
        using var otherBusiness = factory.CreateClientWithToken(otherToken);

        // Another business's grant looks like no grant at all.
        await JsonOf(await otherBusiness.GetAsync($"/api/v1/grants/{grantId}/records"), HttpStatusCode.NotFound);
        await JsonOf(await business.GetAsync($"/api/v1/grants/{Guid.NewGuid()}/records"), HttpStatusCode.NotFound);

        // Forged and tampered cursors, bad page sizes.
        var forged = await JsonOf(await business.GetAsync($"/api/v1/grants/{grantId}/records?cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), HttpStatusCode.BadRequest);
        Assert.Contains("not a cursor this server issued", forged.GetProperty("errors").GetProperty("cursor")[0].GetString());
        await JsonOf(await business.GetAsync($"/api/v1/grants/{grantId}/records?cursor=not*base64"), HttpStatusCode.BadRequest);
        await JsonOf(await business.GetAsync($"/api/v1/grants/{grantId}/records?limit=0"), HttpStatusCode.BadRequest);

        // The first fetch is allowed; the approved frequency (monthly) refuses a second with Retry-After.
        var first = await JsonOf(await business.GetAsync($"/api/v1/grants/{grantId}/records"), HttpStatusCode.OK);
        Assert.Equal(JsonValueKind.Null, first.GetProperty("next").ValueKind);
        var again = await business.GetAsync($"/api/v1/grants/{grantId}/records");
        await JsonOf(again, HttpStatusCode.TooManyRequests);
        Assert.True(again.Headers.RetryAfter?.Delta > TimeSpan.FromDays(29));

        // Aggregates are for aggregate-only grants.
        await JsonOf(await business.PostAsJsonAsync($"/api/v1/grants/{grantId}/aggregates", new { category = "steps.daily", measures = new[] { new { function = "count" } } }), HttpStatusCode.Forbidden);

        // A suspended grant says so.
        var chair = factory.CreateClientWithToken((await factory.SignInAsync(AccountKind.Committee, CommitteeRoles.Chair)).AccessToken);
        await JsonOf(await chair.PostAsJsonAsync($"/api/v1/committee/grants/{grantId}/suspend", new { reason = "review of the access pattern" }), HttpStatusCode.OK);
        var suspended = await JsonOf(await business.GetAsync($"/api/v1/grants/{grantId}/records"), HttpStatusCode.Forbidden);
        Assert.Contains("suspended", suspended.GetProperty("detail").GetString());
        Assert.Contains("review of the access pattern", suspended.GetProperty("detail").GetString());

        var (_, committeeToken) = await factory.SignInAsync(AccountKind.Committee, CommitteeRoles.Member);
        using var committee = factory.CreateClientWithToken(committeeToken);
        var outcomes = (await committee.GetFromJsonAsync<JsonElement>($"/api/v1/committee/access-log?grantId={grantId}"))
            .GetProperty("items").EnumerateArray().Select(e => e.GetProperty("outcome").GetString()).ToList();
        Assert.Equal(["grant-inactive", "refused", "throttled", "served", "refused", "refused", "refused", "refused"], outcomes);

        // The alerts job flags the throttled attempt and the attempt on the suspended grant.
        using var scope = factory.Services.CreateScope();
        await scope.ServiceProvider.GetRequiredService<InfoBank.Server.Features.Access.AccessAlertJob>().RunAsync();
        var alerts = (await committee.GetFromJsonAsync<JsonElement>($"/api/v1/committee/alerts?grantId={grantId}"))
            .GetProperty("items").EnumerateArray().Select(a => a.GetProperty("kind").GetString()).Order().ToList();
        Assert.Equal(["InactiveGrantAttempt", "OverFrequency"], alerts);
    }
}
