using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using InfoBank.Core.Applications;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Tests.Infrastructure;

namespace InfoBank.Server.Tests.Applications;

/// <summary>
/// One recipient cannot hold two grants whose answers can be subtracted (POL-FORBID-005): the policy
/// sees the grants it holds at submission, and an approval is judged again against the grants in
/// force at that moment, so two applications in review at once cannot both be approved.
/// </summary>
public sealed class OverlappingGrantsHttpTests(OverlappingGrantsHttpTests.Factory factory) : IClassFixture<OverlappingGrantsHttpTests.Factory>
{
    public sealed class Factory : InfoBankFactory;

    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private static async Task<JsonElement> JsonOf(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? default : JsonSerializer.Deserialize<JsonElement>(text);
    }

    private static ApplicationSpec StepsAggregate() => ApplicationServiceTests<SqliteFixture>.Example("fitness-club");

    private static async Task<Guid> SubmitAsync(HttpClient business, ApplicationSpec spec, string expectedStatus)
    {
        var created = await JsonOf(await business.PostAsJsonAsync("/api/v1/applications", spec, Web), HttpStatusCode.Created);
        var id = created.GetProperty("id").GetGuid();
        var submitted = await JsonOf(await business.PostAsync($"/api/v1/applications/{id}/submit", null), HttpStatusCode.OK);
        Assert.Equal(expectedStatus, submitted.GetProperty("status").GetString());
        return id;
    }

    private async Task<HttpClient> VoteAllAsync(Guid id)
    {
        HttpClient? chair = null;
        foreach (var role in new[] { CommitteeRoles.Member, CommitteeRoles.Secretariat, CommitteeRoles.Chair })
        {
            var member = factory.CreateClientWithToken((await factory.SignInAsync(AccountKind.Committee, role)).AccessToken);
            await JsonOf(await member.PostAsJsonAsync($"/api/v1/committee/applications/{id}/votes",
                new { vote = "approve", reason = "necessary and proportionate", conditions = Array.Empty<string>() }), HttpStatusCode.OK);
            chair = member;
        }
        return chair!;
    }

    private async Task<long> CountAsync(string sql, object? args = null)
    {
        await using var c = await factory.Connections.OpenAsync();
        return await c.ExecuteScalarAsync<long>(sql, args);
    }

    [Fact]
    public async Task A_second_overlapping_aggregate_is_denied_at_submission_and_again_at_approval()
    {
        using var business = factory.CreateClientWithToken((await factory.ClientTokenAsync(ClientKind.Business)).AccessToken);

        // Two aggregates over steps.daily in review at once: neither is a grant yet, so both pass.
        var first = await SubmitAsync(business, StepsAggregate(), "in_review");
        var second = await SubmitAsync(business, StepsAggregate(), "in_review");
        using var chair = await VoteAllAsync(first);
        await JsonOf(await chair.PostAsJsonAsync($"/api/v1/committee/applications/{first}/decision", new { note = "approved" }), HttpStatusCode.OK);

        // The second now overlaps the grant in force: the approval is refused and records nothing.
        using var chair2 = await VoteAllAsync(second);
        var entries = await CountAsync("SELECT COUNT(*) FROM audit_log");
        var refused = await chair2.PostAsJsonAsync($"/api/v1/committee/applications/{second}/decision", new { note = "approved" });
        var problem = await JsonOf(refused, HttpStatusCode.Conflict);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal("/problems/policy-denies", problem.GetProperty("type").GetString());
        Assert.Equal(["POL-FORBID-005"], problem.GetProperty("rules").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(entries, await CountAsync("SELECT COUNT(*) FROM audit_log"));
        Assert.Equal(0, await CountAsync("SELECT COUNT(*) FROM grants WHERE application_id = @id", new { id = second }));
        Assert.Equal(0, await CountAsync("SELECT COUNT(*) FROM committee_decisions WHERE application_id = @id", new { id = second }));
        var view = await JsonOf(await chair2.GetAsync($"/api/v1/committee/applications/{second}"), HttpStatusCode.OK);
        Assert.Equal("in_review", view.GetProperty("status").GetString());

        // A third submission now sees the grant and is sent back to the business by the policy.
        var third = await SubmitAsync(business, StepsAggregate(), "returned");
        var thirdView = await JsonOf(await business.GetAsync($"/api/v1/applications/{third}"), HttpStatusCode.OK);
        var policy = thirdView.GetProperty("assessment").GetProperty("policy");
        Assert.Equal("deny", policy.GetProperty("decision").GetString());
        Assert.Contains("POL-FORBID-005", policy.GetProperty("matched").EnumerateArray().Select(m => m.GetProperty("ruleId").GetString()));

        // Another category does not overlap: a body-composition aggregate for research passes.
        var other = ApplicationServiceTests<SqliteFixture>.Example("health-research") with
        {
            Data = [new DataRequest("body.composition", ["bmi"])],
            Output = new OutputSpec(OutputKinds.Aggregate, 10, null),
        };
        await SubmitAsync(business, other, "in_review");

        // Another recipient is not affected by this one's grants.
        using var stranger = factory.CreateClientWithToken((await factory.ClientTokenAsync(ClientKind.Business)).AccessToken);
        await SubmitAsync(stranger, StepsAggregate(), "in_review");
    }
}
