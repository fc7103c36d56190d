using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using InfoBank.Core.Audit;
using InfoBank.Core.Consent;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Consent;

/// <summary>The consent API over HTTP with real resident tokens.</summary>
public sealed class ConsentApiTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    private OfferService Offers => factory.Services.GetRequiredService<OfferService>();

    private ConsentDecisions Decisions => factory.Services.GetRequiredService<ConsentDecisions>();

    private static OfferDraft Current(OfferDraft draft) =>
        draft with { Notice = draft.Notice with { ValidFrom = DateTimeOffset.UtcNow.AddDays(-1), ValidUntil = DateTimeOffset.UtcNow.AddDays(30) } };

    private async Task<OfferTerms> PublishResearchAsync(string? recipient = null) =>
        (await Offers.PublishAsync(Current(ConsentKit.ResearchDraft(recipient: recipient ?? "research-" + Guid.NewGuid().ToString("N")[..8])))).Offer;

    private async Task<(Guid Resident, HttpClient Http)> ResidentAsync(bool enrol = true)
    {
        var (id, token) = await factory.SignInAsync(AccountKind.Resident);
        var http = factory.CreateClientWithToken(token);
        if (enrol)
        {
            var enrolled = await http.PostAsJsonAsync("/api/v1/me/enrollment", new
            {
                termsVersion = Features.Custody.CustodyTerms.Current.Version,
                termsHash = Features.Custody.CustodyTerms.Current.Hash,
                agree = true,
            });
            Assert.Equal(HttpStatusCode.Created, enrolled.StatusCode);
        }
        return (id, http);
    }

    private static object GiveBody(OfferTerms offer, params string[] named) =>
        new { offerId = offer.OfferId, noticeVersion = offer.NoticeVersion, noticeHash = offer.NoticeHash, specialCareItems = named };

    [Fact]
    public async Task Offers_are_public_and_carry_the_notice()
    {
        var offer = await PublishResearchAsync();
        using var anonymous = factory.CreateClient();
        var response = await anonymous.GetAsync("/api/v1/offers?limit=200");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var listed = doc.RootElement.GetProperty("items").EnumerateArray().Single(o => o.GetProperty("offerId").GetGuid() == offer.OfferId);
        Assert.Equal(offer.NoticeHash, listed.GetProperty("noticeHash").GetString());
        Assert.Equal(1, listed.GetProperty("noticeVersion").GetInt32());
        Assert.Equal(Purposes.AcademicResearch, listed.GetProperty("purpose").GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(listed.GetProperty("purpose").GetProperty("text").GetProperty("ja").GetString()));
        Assert.True(listed.GetProperty("involvesSpecialCareData").GetBoolean());
        Assert.Equal("RecordLevel", listed.GetProperty("granularity").GetString());
        Assert.Equal(500, listed.GetProperty("benefit").GetProperty("points").GetInt32());
        Assert.Equal(1095, listed.GetProperty("retentionDays").GetInt32());
        Assert.Equal(offer.Notice.Recipient.ClientId, listed.GetProperty("recipient").GetProperty("clientId").GetString());

        var single = await anonymous.GetAsync($"/api/v1/offers/{offer.OfferId}");
        Assert.Equal(HttpStatusCode.OK, single.StatusCode);
        await HostProblem(await anonymous.GetAsync($"/api/v1/offers/{Guid.NewGuid()}"), HttpStatusCode.NotFound);
        await HostProblem(await anonymous.GetAsync($"/api/v1/offers/{offer.OfferId}?noticeVersion=7"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Give_withdraw_and_receipts_over_http_take_effect_for_the_next_decision()
    {
        var offer = await PublishResearchAsync();
        var (resident, http) = await ResidentAsync();
        var question = ConsentKit.ResearchQuestion(resident) with { RecipientClientId = offer.Notice.Recipient.ClientId };
        Assert.False((await Decisions.DecideAsync(question)).Allowed);

        var given = await http.PostAsJsonAsync("/api/v1/me/consents", GiveBody(offer, DataCategories.BodyComposition));
        Assert.Equal(HttpStatusCode.Created, given.StatusCode);
        using var givenDoc = JsonDocument.Parse(await given.Content.ReadAsStringAsync());
        var consent = givenDoc.RootElement.GetProperty("consent");
        var consentId = consent.GetProperty("consentId").GetGuid();
        Assert.Equal($"/api/v1/me/consents/{consentId}", given.Headers.Location!.ToString());
        Assert.Equal("ConsentGiven", consent.GetProperty("state").GetString());
        Assert.Equal([DataCategories.BodyComposition], consent.GetProperty("explicitlyConsentedItems").EnumerateArray().Select(e => e.GetString()));

        var allowed = await Decisions.DecideAsync(question);
        Assert.True(allowed.Allowed);
        Assert.Equal(consentId, allowed.ConsentId);

        var jwks = await factory.CreateClient().GetStringAsync("/api/v1/keys");
        Assert.True(ReceiptVerificationTests.VerifyWithJwks(givenDoc.RootElement.GetProperty("receipt").GetProperty("jws").GetString()!, jwks, out _));

        var receipt = await http.GetAsync($"/api/v1/me/consents/{consentId}/receipt");
        Assert.Equal(HttpStatusCode.OK, receipt.StatusCode);
        using (var receiptDoc = JsonDocument.Parse(await receipt.Content.ReadAsStringAsync()))
        {
            var jws = receiptDoc.RootElement.GetProperty("jws").GetString()!;
            Assert.True(ReceiptVerificationTests.VerifyWithJwks(jws, jwks, out var payload));
            using var signed = JsonDocument.Parse(payload);
            var body = signed.RootElement;
            // ISO/IEC TS 27560 fields.
            foreach (var field in new[] { "recordId", "schemaVersion", "subject", "controller", "recipient", "purposes", "dataItems",
                "legalBasis", "notice", "validity", "retention", "withdrawal", "events" })
            {
                Assert.True(body.TryGetProperty(field, out _), field);
            }
            Assert.Equal($"resident:{resident:D}", body.GetProperty("subject").GetProperty("reference").GetString());
            Assert.Equal("dpv:ExplicitlyExpressedConsent", body.GetProperty("legalBasis").GetString());
            Assert.Equal(offer.NoticeHash, body.GetProperty("notice").GetProperty("hash").GetString());
            Assert.True(JsonElement.DeepEquals(receiptDoc.RootElement.GetProperty("receipt"), body));
        }

        var withdrawn = await http.DeleteAsync($"/api/v1/me/consents/{consentId}");
        Assert.Equal(HttpStatusCode.OK, withdrawn.StatusCode);
        // No cache serves the withdrawn consent: the very next decision denies.
        Assert.False((await Decisions.DecideAsync(question)).Allowed);
        using (var withdrawnDoc = JsonDocument.Parse(await withdrawn.Content.ReadAsStringAsync()))
        {
            Assert.Equal("ConsentWithdrawn", withdrawnDoc.RootElement.GetProperty("consent").GetProperty("state").GetString());
            Assert.True(ReceiptVerificationTests.VerifyWithJwks(withdrawnDoc.RootElement.GetProperty("receipt").GetProperty("jws").GetString()!, jwks, out var payload));
            using var signed = JsonDocument.Parse(payload);
            var events = signed.RootElement.GetProperty("events").EnumerateArray().ToList();
            Assert.Equal(["ConsentGiven", "ConsentWithdrawn"], events.Select(e => e.GetProperty("type").GetString()));
            // Each event names where it landed in the audit log, so an auditor can find its entry.
            Assert.All(events, e => Assert.Equal(JsonValueKind.Number, e.GetProperty("auditSequence").ValueKind));
        }

        var list = await http.GetFromJsonAsync<JsonElement>("/api/v1/me/consents");
        Assert.Equal("ConsentWithdrawn", list.GetProperty("items").EnumerateArray().Single().GetProperty("state").GetString());

        // The resident's full export carries the consent and its history.
        var export = await http.GetFromJsonAsync<JsonElement>("/api/v1/me/export");
        var exported = export.GetProperty("consents").EnumerateArray().Single();
        Assert.Equal(consentId, exported.GetProperty("consentId").GetGuid());
        Assert.Equal(2, exported.GetProperty("events").GetArrayLength());
    }

    [Fact]
    public async Task Bad_requests_are_clear_4xx_problems_and_leave_the_ledger_unchanged()
    {
        var offer = await PublishResearchAsync();
        var (_, http) = await ResidentAsync();
        var (_, other) = await ResidentAsync();
        var created = await http.PostAsJsonAsync("/api/v1/me/consents", GiveBody(offer, DataCategories.BodyComposition));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var consentId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("consent").GetProperty("consentId").GetGuid();
        var before = await EventCountAsync();

        async Task Expect(HttpResponseMessage response, HttpStatusCode status, string fragment)
        {
            var problem = await HostProblem(response, status);
            var text = problem.GetRawText();
            Assert.Contains(fragment, text, StringComparison.OrdinalIgnoreCase);
            Assert.Equal(before, await EventCountAsync());
        }

        await Expect(await http.PostAsJsonAsync("/api/v1/me/consents", new { offerId = Guid.NewGuid(), noticeVersion = 1 }), HttpStatusCode.NotFound, "no offer");
        await Expect(await http.PostAsJsonAsync("/api/v1/me/consents", GiveBody(offer, DataCategories.BodyComposition)), HttpStatusCode.Conflict, "already consented");
        await Expect(await other.PostAsJsonAsync("/api/v1/me/consents", new { offerId = offer.OfferId, noticeVersion = 2, specialCareItems = new[] { DataCategories.BodyComposition } }), HttpStatusCode.Conflict, "not current");
        await Expect(await other.PostAsJsonAsync("/api/v1/me/consents", new { offerId = offer.OfferId, noticeVersion = 1 }), HttpStatusCode.UnprocessableEntity, "special-care");
        await Expect(await other.PostAsJsonAsync("/api/v1/me/consents", new { noticeVersion = 1 }), HttpStatusCode.BadRequest, "offerId");
        await Expect(await other.PostAsJsonAsync("/api/v1/me/consents", new { offerId = offer.OfferId }), HttpStatusCode.BadRequest, "noticeVersion");
        await Expect(await other.PostAsync("/api/v1/me/consents", new StringContent($"{{\"offerId\":\"{offer.OfferId}\",\"noticeVersion\":1,\"subjectId\":\"x\"}}", Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, "subjectId");
        await Expect(await other.PostAsync("/api/v1/me/consents", new StringContent("{\"offerId\": 12", Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, "JSON");
        await Expect(await other.DeleteAsync($"/api/v1/me/consents/{consentId}"), HttpStatusCode.NotFound, "no consent");
        await Expect(await other.GetAsync($"/api/v1/me/consents/{consentId}/receipt"), HttpStatusCode.NotFound, "no consent");
        await Expect(await other.GetAsync($"/api/v1/me/consents/{consentId}"), HttpStatusCode.NotFound, "no consent");

        Assert.Equal(HttpStatusCode.OK, (await http.DeleteAsync($"/api/v1/me/consents/{consentId}")).StatusCode);
        before = await EventCountAsync();
        await Expect(await http.DeleteAsync($"/api/v1/me/consents/{consentId}"), HttpStatusCode.Conflict, "already ConsentWithdrawn");

        await Offers.SuspendForGrantAsync(offer.GrantId);
        await Expect(await other.PostAsJsonAsync("/api/v1/me/consents", GiveBody(offer, DataCategories.BodyComposition)), HttpStatusCode.Conflict, "suspended");
        await Offers.RevokeForGrantAsync(offer.GrantId);
        before = await EventCountAsync();
        await Expect(await other.PostAsJsonAsync("/api/v1/me/consents", GiveBody(offer, DataCategories.BodyComposition)), HttpStatusCode.Conflict, "revoked");
    }

    [Fact]
    public async Task A_client_tells_a_closed_offer_from_a_consent_it_already_holds_by_type_alone()
    {
        var offer = await PublishResearchAsync();
        var (_, http) = await ResidentAsync();
        var (_, other) = await ResidentAsync();
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("/api/v1/me/consents", GiveBody(offer, DataCategories.BodyComposition))).StatusCode);

        var already = await HostProblem(await http.PostAsJsonAsync("/api/v1/me/consents", GiveBody(offer, DataCategories.BodyComposition)), HttpStatusCode.Conflict);
        var outdated = await HostProblem(await other.PostAsJsonAsync("/api/v1/me/consents",
            new { offerId = offer.OfferId, noticeVersion = 2, specialCareItems = new[] { DataCategories.BodyComposition } }), HttpStatusCode.Conflict);
        var unnamed = await HostProblem(await other.PostAsJsonAsync("/api/v1/me/consents", new { offerId = offer.OfferId, noticeVersion = 1 }), HttpStatusCode.UnprocessableEntity);
        await Offers.SuspendForGrantAsync(offer.GrantId);
        var closed = await HostProblem(await other.PostAsJsonAsync("/api/v1/me/consents", GiveBody(offer, DataCategories.BodyComposition)), HttpStatusCode.Conflict);

        // The same status, told apart by the type: a client needs no English to know what to do.
        Assert.Equal("/problems/already-consented", already.GetProperty("type").GetString());
        Assert.Equal("/problems/offer-not-open", closed.GetProperty("type").GetString());
        Assert.Equal("/problems/notice-not-current", outdated.GetProperty("type").GetString());
        Assert.Equal("/problems/special-care-not-named", unnamed.GetProperty("type").GetString());
        foreach (var problem in new[] { already, closed, outdated, unnamed })
        {
            var documented = await factory.CreateClient().GetAsync(problem.GetProperty("type").GetString());
            Assert.Equal(HttpStatusCode.OK, documented.StatusCode);
            Assert.Equal(problem.GetProperty("status").GetInt32(), (await documented.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetInt32());
        }
    }

    [Fact]
    public async Task After_a_notice_change_the_resident_sees_what_changed_and_consents_again()
    {
        var draft = Current(ConsentKit.ResearchDraft(recipient: "research-" + Guid.NewGuid().ToString("N")[..8]));
        var offer = (await Offers.PublishAsync(draft)).Offer;
        var (_, http) = await ResidentAsync();
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("/api/v1/me/consents", GiveBody(offer, DataCategories.BodyComposition))).StatusCode);

        var changed = (await Offers.PublishAsync(draft with { Notice = draft.Notice with { BenefitPoints = 800 } })).Offer;
        var list = await http.GetFromJsonAsync<JsonElement>("/api/v1/me/consents");
        var old = list.GetProperty("items").EnumerateArray().Single();
        Assert.Equal("ConsentInvalidated", old.GetProperty("state").GetString());
        Assert.True(old.GetProperty("canConsentAgain").GetBoolean());
        Assert.Equal(2, old.GetProperty("currentNoticeVersion").GetInt32());
        var change = old.GetProperty("changesSinceConsent").EnumerateArray().Single();
        Assert.Equal("benefit.points", change.GetProperty("field").GetString());
        Assert.Equal("800", change.GetProperty("after").GetString());

        // The old version's consent does not carry over: consenting to version 1 again is refused.
        await HostProblem(await http.PostAsJsonAsync("/api/v1/me/consents", GiveBody(offer, DataCategories.BodyComposition)), HttpStatusCode.Conflict);
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("/api/v1/me/consents", GiveBody(changed, DataCategories.BodyComposition))).StatusCode);
        var history = await http.GetAsync($"/api/v1/offers/{offer.OfferId}?noticeVersion=1");
        Assert.Equal(HttpStatusCode.OK, history.StatusCode);
        Assert.Equal(500, (await history.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("benefit").GetProperty("points").GetInt32());
    }

    [Fact]
    public async Task Erasure_withdraws_every_active_consent_before_the_keys_go()
    {
        var first = await PublishResearchAsync();
        var second = await PublishResearchAsync();
        var (resident, http) = await ResidentAsync();
        var given = await http.PostAsJsonAsync("/api/v1/me/consents", GiveBody(first, DataCategories.BodyComposition));
        Assert.Equal(HttpStatusCode.Created, given.StatusCode);
        var givenId = (await given.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("consent").GetProperty("consentId").GetGuid();
        var kept = await http.PostAsJsonAsync("/api/v1/me/consents", GiveBody(second, DataCategories.BodyComposition));
        var keptId = (await kept.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("consent").GetProperty("consentId").GetGuid();
        Assert.Equal(HttpStatusCode.OK, (await http.DeleteAsync($"/api/v1/me/consents/{keptId}")).StatusCode);
        var question = ConsentKit.ResearchQuestion(resident) with { RecipientClientId = first.Notice.Recipient.ClientId };
        Assert.True((await Decisions.DecideAsync(question)).Allowed);

        var audit = factory.Services.GetRequiredService<Features.Audit.AuditStore>();
        var subject = await audit.PseudonymOfAsync(resident);
        Assert.NotNull(subject);

        Assert.Equal(HttpStatusCode.OK, (await factory.EraseAsync(http, resident)).StatusCode);

        // The log named the resident by a pseudonym that erasure destroyed: nothing links them to it now.
        Assert.Null(await audit.PseudonymOfAsync(resident));
        Assert.False((await Decisions.DecideAsync(question)).Allowed);
        // The old token is an erased account's now: refused as such, changing nothing.
        var listed = await http.GetAsync("/api/v1/me/consents");
        Assert.Equal("/problems/account-erased", (await Foundation.HostTests.AssertProblem(listed, HttpStatusCode.Unauthorized)).GetProperty("type").GetString());
        // The already-withdrawn consent was not touched again: one withdrawal event each. The ledger
        // keeps both consents, under a subject that is no longer the resident's id.
        await using var connection = await factory.Connections.OpenAsync();
        var all = await factory.Connections.ReadAsync(factory.Services.GetRequiredService<ConsentStore>().ListAllEventsAsync);
        Assert.DoesNotContain(all, e => e.SubjectId == resident || e.Actor.Contains(resident.ToString(), StringComparison.OrdinalIgnoreCase));
        var events = all.Where(e => e.ConsentId == givenId || e.ConsentId == keptId).ToList();
        Assert.Equal(2, events.Count(e => e.Type == ConsentState.ConsentWithdrawn));
        Assert.Single(events.Select(e => e.SubjectId).Distinct());
        Assert.Equal(2, await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection,
            $"SELECT COUNT(*) FROM consents WHERE {factory.Connections.Dialect.InList("consent_id", "ids")} AND state = 'ConsentWithdrawn' AND subject_id = @subject",
            new { ids = new[] { givenId, keptId }, subject = events[0].SubjectId }));
        // ...and the erasure's withdrawal was recorded before the keys were destroyed.
        var audited = (await Dapper.SqlMapper.QueryAsync<(long Seq, string Kind)>(connection,
            "SELECT seq, kind FROM audit_log WHERE subject_ref = @subject ORDER BY seq", new { subject })).ToList();
        var erasedAt = audited.Single(a => a.Kind == AuditKinds.Erasure).Seq;
        Assert.True(audited.Last(a => a.Kind == AuditKinds.ConsentWithdrawn).Seq < erasedAt);
    }

    [Fact]
    public async Task The_consent_list_comes_a_page_at_a_time_with_next_and_a_link_header()
    {
        var (_, http) = await ResidentAsync();
        var given = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            var offer = await PublishResearchAsync();
            var created = await http.PostAsJsonAsync("/api/v1/me/consents", GiveBody(offer, DataCategories.BodyComposition));
            given.Add((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("consent").GetProperty("consentId").GetGuid());
        }
        var seen = new List<Guid>();
        var url = "/api/v1/me/consents?limit=2";
        var pages = 0;
        while (url is not null)
        {
            var response = await http.GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var page = await response.Content.ReadFromJsonAsync<JsonElement>();
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(c => c.GetProperty("consentId").GetGuid()));
            url = page.GetProperty("next").GetString();
            Assert.Equal(url is null ? null : $"<{url}>; rel=\"next\"", response.Headers.TryGetValues("Link", out var link) ? link.Single() : null);
            pages++;
        }
        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Reverse(given), seen);

        foreach (var bad in new[] { "?limit=0", "?limit=201", "?cursor=not-a-cursor", "?limit=x" })
        {
            var problem = await HostProblem(await http.GetAsync("/api/v1/me/consents" + bad), HttpStatusCode.BadRequest);
            Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
        }
    }

    [Fact]
    public async Task A_resident_who_never_enrolled_can_neither_consent_nor_erase()
    {
        var offer = await PublishResearchAsync();
        var (resident, http) = await ResidentAsync(enrol: false);
        var before = await EventCountAsync();
        var refused = await HostProblem(await http.PostAsJsonAsync("/api/v1/me/consents", GiveBody(offer, DataCategories.BodyComposition)), HttpStatusCode.Conflict);
        Assert.Equal("/problems/not-enrolled", refused.GetProperty("type").GetString());
        Assert.Equal(before, await EventCountAsync());

        await HostProblem(await factory.EraseAsync(http, resident), HttpStatusCode.NotFound);
        var question = ConsentKit.ResearchQuestion(resident) with { RecipientClientId = offer.Notice.Recipient.ClientId };
        Assert.False((await Decisions.DecideAsync(question)).Allowed);
    }

    private async Task<int> EventCountAsync()
    {
        return (await factory.Connections.ReadAsync(factory.Services.GetRequiredService<ConsentStore>().ListAllEventsAsync)).Count;
    }

    private static Task<JsonElement> HostProblem(HttpResponseMessage response, HttpStatusCode status) =>
        Foundation.HostTests.AssertProblem(response, status);
}
