using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;
using InfoBank.Core.Applications;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;

namespace InfoBank.Server.Tests.Applications;

/// <summary>The whole path over HTTP with real tokens: application → PIA → votes → decision → grant → suspension and revocation.</summary>
public sealed class ApplicationsHttpTests(ApplicationsHttpTests.Factory factory) : IClassFixture<ApplicationsHttpTests.Factory>
{
    public sealed class Factory : InfoBankFactory;

    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private async Task<HttpClient> BusinessAsync() => factory.CreateClientWithToken((await factory.ClientTokenAsync(ClientKind.Business)).AccessToken);

    private async Task<HttpClient> CommitteeAsync(string role) => factory.CreateClientWithToken((await factory.SignInAsync(AccountKind.Committee, role)).AccessToken);

    private static async Task<JsonElement> JsonOf(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? default : JsonSerializer.Deserialize<JsonElement>(text);
    }

    private static async Task<string> ProblemOf(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await JsonOf(response, expected);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return body.GetRawText();
    }

    private static Task<HttpResponseMessage> Vote(HttpClient client, Guid id, string vote, string reason, params string[] conditions) =>
        client.PostAsJsonAsync($"/api/v1/committee/applications/{id}/votes", new { vote, reason, conditions });

    private static async Task<Guid> CreateAsync(HttpClient business, ApplicationSpec spec)
    {
        var created = await JsonOf(await business.PostAsJsonAsync("/api/v1/applications", spec, Web), HttpStatusCode.Created);
        Assert.Equal("draft", created.GetProperty("status").GetString());
        return created.GetProperty("id").GetGuid();
    }

    [Fact]
    public async Task Application_to_grant_over_http_with_real_tokens()
    {
        using var business = await BusinessAsync();
        using var other = await BusinessAsync();
        using var chair = await CommitteeAsync(CommitteeRoles.Chair);
        using var member = await CommitteeAsync(CommitteeRoles.Member);
        using var secretary = await CommitteeAsync(CommitteeRoles.Secretariat);

        var id = await CreateAsync(business, ApplicationServiceTests<SqliteFixture>.Example("fitness-club"));

        // Another business gets the same 404 as for an id that does not exist.
        await ProblemOf(await other.GetAsync($"/api/v1/applications/{id}"), HttpStatusCode.NotFound);
        await ProblemOf(await other.PostAsync($"/api/v1/applications/{id}/submit", null), HttpStatusCode.NotFound);
        await ProblemOf(await other.PutAsJsonAsync($"/api/v1/applications/{id}", ApplicationServiceTests<SqliteFixture>.Example("fitness-club"), Web), HttpStatusCode.NotFound);
        Assert.Equal(0, (await JsonOf(await other.GetAsync("/api/v1/applications"), HttpStatusCode.OK)).GetProperty("items").GetArrayLength());

        var submitted = await JsonOf(await business.PostAsync($"/api/v1/applications/{id}/submit", null), HttpStatusCode.OK);
        Assert.Equal("in_review", submitted.GetProperty("status").GetString());
        Assert.Equal("pass", submitted.GetProperty("assessment").GetProperty("pia").GetProperty("outcome").GetString());
        Assert.Equal(3, submitted.GetProperty("assessment").GetProperty("pia").GetProperty("risks").GetArrayLength());
        Assert.Contains("POL-PERMIT-001", submitted.GetProperty("assessment").GetProperty("policy").GetProperty("matched").EnumerateArray().Select(m => m.GetProperty("ruleId").GetString()));

        var frozen = await ProblemOf(await business.PutAsJsonAsync($"/api/v1/applications/{id}", ApplicationServiceTests<SqliteFixture>.Example("fitness-club"), Web), HttpStatusCode.Conflict);
        Assert.Contains("frozen", frozen);

        // Only committee tokens vote; a business cannot.
        Assert.Equal(HttpStatusCode.Forbidden, (await Vote(business, id, "approve", "mine")).StatusCode);
        var listed = await JsonOf(await member.GetAsync("/api/v1/committee/applications?status=in_review&limit=200"), HttpStatusCode.OK);
        Assert.Contains(id, listed.GetProperty("items").EnumerateArray().Select(a => a.GetProperty("id").GetGuid()));

        await JsonOf(await Vote(member, id, "approve", "aggregate only, k = 10"), HttpStatusCode.OK);
        Assert.Contains("already voted", await ProblemOf(await Vote(member, id, "reject", "second thoughts"), HttpStatusCode.Conflict));
        Assert.Contains("no quorum", await ProblemOf(await chair.PostAsJsonAsync($"/api/v1/committee/applications/{id}/decision", new { note = "early" }), HttpStatusCode.Conflict));
        await ProblemOf(await Vote(secretary, id, "approve_with_conditions", "publish results", []), HttpStatusCode.BadRequest);
        await JsonOf(await Vote(secretary, id, "approve_with_conditions", "publish results", "publish the ward statistics yearly"), HttpStatusCode.OK);
        await JsonOf(await Vote(chair, id, "approve", "the benefit is fair"), HttpStatusCode.OK);
        Assert.Contains("may not record a decision", await ProblemOf(await member.PostAsJsonAsync($"/api/v1/committee/applications/{id}/decision", new { note = "x" }), HttpStatusCode.Forbidden));

        var decided = await JsonOf(await chair.PostAsJsonAsync($"/api/v1/committee/applications/{id}/decision", new { note = "approved at the November meeting" }), HttpStatusCode.OK);
        Assert.Equal("approved", decided.GetProperty("status").GetString());
        var grantId = decided.GetProperty("grant").GetProperty("id").GetGuid();

        var seen = await JsonOf(await business.GetAsync($"/api/v1/applications/{id}"), HttpStatusCode.OK);
        Assert.Equal("approved", seen.GetProperty("status").GetString());
        var decision = seen.GetProperty("decision");
        Assert.Equal(["publish the ward statistics yearly"], decision.GetProperty("conditions").EnumerateArray().Select(c => c.GetString()));
        Assert.All(decision.GetProperty("votes").EnumerateArray(), v => Assert.Equal(JsonValueKind.Null, v.GetProperty("memberId").ValueKind));
        Assert.Contains("the benefit is fair", decision.GetProperty("votes").EnumerateArray().Select(v => v.GetProperty("reason").GetString()));
        var grant = seen.GetProperty("grant");
        Assert.Equal("active", grant.GetProperty("status").GetString());
        Assert.Equal(10, grant.GetProperty("minGroupSize").GetInt32());

        // Approval published the offer residents opt into; a resident consents to it.
        using var anonymous = factory.CreateClient();
        var offer = (await JsonOf(await anonymous.GetAsync("/api/v1/offers?limit=200"), HttpStatusCode.OK)).GetProperty("items").EnumerateArray().Single(o => o.GetProperty("grantId").GetGuid() == grantId);
        Assert.Equal("AggregateOnly", offer.GetProperty("granularity").GetString());
        Assert.Equal(["steps.daily"], offer.GetProperty("items").EnumerateArray().Select(i => i.GetString()));
        using var resident = factory.CreateClientWithToken((await factory.SignInAsync(AccountKind.Resident)).AccessToken);
        await JsonOf(await resident.PostAsJsonAsync("/api/v1/me/enrollment", new
        {
            termsVersion = Features.Custody.CustodyTerms.Current.Version,
            termsHash = Features.Custody.CustodyTerms.Current.Hash,
            agree = true,
        }), HttpStatusCode.Created);
        await JsonOf(await resident.PostAsJsonAsync("/api/v1/me/consents", new
        {
            offerId = offer.GetProperty("offerId").GetGuid(),
            noticeVersion = offer.GetProperty("noticeVersion").GetInt32(),
            noticeHash = offer.GetProperty("noticeHash").GetString(),
            specialCareItems = Array.Empty<string>(),
        }), HttpStatusCode.Created);

        Assert.Equal(HttpStatusCode.Forbidden, (await business.PostAsJsonAsync($"/api/v1/committee/grants/{grantId}/revoke", new { reason = "x" })).StatusCode);
        await JsonOf(await member.PostAsJsonAsync($"/api/v1/committee/grants/{grantId}/suspend", new { reason = "unusual access pattern" }), HttpStatusCode.OK);
        Assert.Equal("Suspended", (await JsonOf(await anonymous.GetAsync($"/api/v1/offers/{offer.GetProperty("offerId").GetGuid()}"), HttpStatusCode.OK)).GetProperty("status").GetString());
        Assert.Contains("may not revoke", await ProblemOf(await member.PostAsJsonAsync($"/api/v1/committee/grants/{grantId}/revoke", new { reason = "x" }), HttpStatusCode.Forbidden));
        var revoked = await JsonOf(await chair.PostAsJsonAsync($"/api/v1/committee/grants/{grantId}/revoke", new { reason = "breach of conditions" }), HttpStatusCode.OK);
        Assert.Equal("revoked", revoked.GetProperty("status").GetString());
        var consents = await JsonOf(await resident.GetAsync("/api/v1/me/consents"), HttpStatusCode.OK);
        Assert.Equal("ConsentRevoked", consents.GetProperty("items").EnumerateArray().Single().GetProperty("state").GetString());
        Assert.DoesNotContain((await JsonOf(await anonymous.GetAsync("/api/v1/offers?limit=200"), HttpStatusCode.OK)).GetProperty("items").EnumerateArray(), o => o.GetProperty("grantId").GetGuid() == grantId);
        await ProblemOf(await chair.PostAsJsonAsync($"/api/v1/committee/grants/{grantId}/suspend", new { reason = "again" }), HttpStatusCode.Conflict);
        await ProblemOf(await chair.PostAsJsonAsync($"/api/v1/committee/grants/{Guid.NewGuid()}/suspend", new { reason = "x" }), HttpStatusCode.NotFound);

        var history = await JsonOf(await chair.GetAsync($"/api/v1/committee/applications/{id}"), HttpStatusCode.OK);
        var kinds = history.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("kind").GetString()).ToList();
        Assert.Equal(["application.created", "application.submitted", "application.assessed", "application.in_review", "committee.vote", "committee.vote", "committee.vote",
            "committee.decision", "application.approved", "grant.created", "grant.suspended", "grant.revoked"], kinds);

        // Each step is in the audit log with the hash of the rule files it was judged by.
        var ruleHash = submitted.GetProperty("assessment").GetProperty("ruleHash").GetString();
        await using var db = await factory.Connections.OpenAsync();
        var audited = (await db.QueryAsync<(string Kind, string? PolicyHash)>(
            "SELECT kind AS Kind, policy_hash AS PolicyHash FROM audit_log WHERE payload LIKE @id ORDER BY seq", new { id = $"%{id}%" })).ToList();
        Assert.Equal([AuditKinds.ApplicationSubmitted, AuditKinds.ApplicationAssessed, AuditKinds.CommitteeVote, AuditKinds.CommitteeVote, AuditKinds.CommitteeVote,
            AuditKinds.CommitteeDecision, AuditKinds.GrantSuspended, AuditKinds.GrantRevoked], audited.Select(a => a.Kind));
        Assert.All(audited, a => Assert.Equal(ruleHash, a.PolicyHash));
    }

    [Fact]
    public async Task A_pia_blocker_returns_the_application_with_its_findings()
    {
        using var business = await BusinessAsync();
        var id = await CreateAsync(business, ApplicationServiceTests<SqliteFixture>.Example("shopping-mall"));
        var returned = await JsonOf(await business.PostAsync($"/api/v1/applications/{id}/submit", null), HttpStatusCode.OK);
        Assert.Equal("returned", returned.GetProperty("status").GetString());
        var findings = returned.GetProperty("assessment").GetProperty("pia").GetProperty("findings").EnumerateArray().ToList();
        var minimisation = Assert.Single(findings, f => f.GetProperty("ruleId").GetString() == "PIA-MIN-001");
        Assert.Equal("blocker", minimisation.GetProperty("severity").GetString());
        Assert.Equal(["purchase.item.itemName"], minimisation.GetProperty("evidence").GetProperty("unnecessary_fields").EnumerateArray().Select(e => e.GetString()));
        Assert.False(string.IsNullOrEmpty(minimisation.GetProperty("explanation").GetProperty("ja").GetString()));

        using var chair = await CommitteeAsync(CommitteeRoles.Chair);
        Assert.Contains("only while the application is in review", await ProblemOf(await Vote(chair, id, "approve", "x"), HttpStatusCode.Conflict));
    }

    [Theory]
    [InlineData("{\"purpose\": 1}")]
    [InlineData("{not json")]
    [InlineData("{\"unknownMember\": true}")]
    public async Task Malformed_bodies_are_refused_with_400(string body)
    {
        using var business = await BusinessAsync();
        var response = await business.PostAsync("/api/v1/applications", new StringContent(body, Encoding.UTF8, "application/json"));
        await ProblemOf(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Invalid_applications_name_what_is_wrong()
    {
        using var business = await BusinessAsync();
        var bad = ApplicationServiceTests<SqliteFixture>.Example("fitness-club") with
        {
            Purpose = new PurposeSpec("dpv:Gossip", new("噂", "gossip")),
            Data = [new DataRequest("steps.daily", ["heartRate"])],
        };
        var problem = await ProblemOf(await business.PostAsJsonAsync("/api/v1/applications", bad, Web), HttpStatusCode.BadRequest);
        Assert.Contains("purpose.code", problem);
        Assert.Contains("heartRate", problem);
        Assert.Contains("data[0].fields", problem);
    }

    [Fact]
    public async Task Committee_routes_refuse_people_outside_the_committee()
    {
        using var resident = factory.CreateClientWithToken((await factory.SignInAsync(AccountKind.Resident)).AccessToken);
        await JsonOf(await resident.PostAsJsonAsync("/api/v1/me/enrollment", new
        {
            termsVersion = Features.Custody.CustodyTerms.Current.Version,
            termsHash = Features.Custody.CustodyTerms.Current.Hash,
            agree = true,
        }), HttpStatusCode.Created);
        Assert.Equal(HttpStatusCode.Forbidden, (await resident.GetAsync("/api/v1/committee/applications")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Vote(resident, Guid.NewGuid(), "approve", "x")).StatusCode);
        using var anonymous = factory.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/applications")).StatusCode);
        using var chair = await CommitteeAsync(CommitteeRoles.Chair);
        await ProblemOf(await chair.GetAsync("/api/v1/committee/applications?status=pending"), HttpStatusCode.BadRequest);
        await ProblemOf(await Vote(chair, Guid.NewGuid(), "approve", "x"), HttpStatusCode.NotFound);
    }
}

public sealed class RuleFilesStartupTests
{
    private sealed class BrokenRulesFactory(string root) : InfoBankFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Pia:Directory", Path.Combine(root, "pia"));
            builder.UseSetting("Policies:Directory", Path.Combine(root, "policies"));
        }
    }

    [Fact]
    public void A_malformed_rule_file_stops_the_server_naming_file_and_line()
    {
        var root = Path.Combine(Path.GetTempPath(), "infobank-rules", Guid.NewGuid().ToString("N"));
        foreach (var file in Directory.EnumerateFiles(AppContext.BaseDirectory, "*.yaml", SearchOption.AllDirectories)
                     .Where(f => Path.GetRelativePath(AppContext.BaseDirectory, f).Split(Path.DirectorySeparatorChar)[0] is "pia" or "policies"))
        {
            var target = Path.Combine(root, Path.GetRelativePath(AppContext.BaseDirectory, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        var broken = Path.Combine(root, "pia", "rules", "30-identifiability.yaml");
        File.WriteAllText(broken, File.ReadAllText(broken).Replace("output.k < params.min_k", "output.k <<< params.min_k", StringComparison.Ordinal));

        using var factory = new BrokenRulesFactory(root);
        var error = Assert.ThrowsAny<Exception>(() => factory.CreateClient());
        Assert.Contains("pia/rules/30-identifiability.yaml:6:", error.ToString());
        Directory.Delete(root, recursive: true);
    }
}
