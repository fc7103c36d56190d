using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Access;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Tests.Infrastructure;
using InfoBank.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Access;

/// <summary>The passbook and the committee's views over HTTP with real tokens, on accesses stored directly.</summary>
public sealed class AccessViewsHttpTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    private AccessStore Store => factory.Services.GetRequiredService<AccessStore>();

    [Fact]
    public async Task A_resident_reads_only_their_own_passbook_lines_and_points()
    {
        var (alice, aliceToken) = await factory.SignInAsync(AccountKind.Resident);
        var (_, bobToken) = await factory.SignInAsync(AccountKind.Resident);
        var business = await factory.RegisterClientAsync(ClientKind.Business);
        var grant = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        var first = AccessStoreTests<SqliteFixture>.Entry(grant, business.ClientId, now.AddMinutes(-2));
        var second = AccessStoreTests<SqliteFixture>.Entry(grant, business.ClientId, now.AddMinutes(-1), start: false, fetch: first.FetchId);
        await Store.RecordAsync(first, [new Provision(alice, 3, 50)], CancellationToken.None);
        await Store.RecordAsync(second, [new Provision(alice, 2, 0)], CancellationToken.None);

        using var asAlice = factory.CreateClientWithToken(aliceToken);
        var passbook = await asAlice.GetFromJsonAsync<JsonElement>("/api/v1/me/passbook");
        Assert.Equal(50, passbook.GetProperty("totalPoints").GetInt64());
        var lines = passbook.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(2, lines.Count);
        Assert.Equal(second.Id, lines[0].GetProperty("accessId").GetGuid());
        Assert.Equal(business.ClientId, lines[1].GetProperty("business").GetProperty("clientId").GetString());
        Assert.Equal("Test Business", lines[1].GetProperty("business").GetProperty("name").GetString());
        Assert.Equal(["steps.daily.steps"], lines[1].GetProperty("items").EnumerateArray().Select(i => i.GetString()));
        Assert.Equal("health-research", lines[1].GetProperty("purpose").GetString());
        Assert.Equal("committee decision 7", lines[1].GetProperty("approval").GetString());
        Assert.Equal(50, lines[1].GetProperty("points").GetInt32());

        var paged = await asAlice.GetFromJsonAsync<JsonElement>("/api/v1/me/passbook?limit=1");
        Assert.Single(paged.GetProperty("items").EnumerateArray());
        var rest = await asAlice.GetFromJsonAsync<JsonElement>(paged.GetProperty("next").GetString());
        Assert.Equal(50, rest.GetProperty("totalPoints").GetInt64());
        Assert.Equal(first.Id, rest.GetProperty("items")[0].GetProperty("accessId").GetGuid());

        using var asBob = factory.CreateClientWithToken(bobToken);
        var bobs = await asBob.GetFromJsonAsync<JsonElement>("/api/v1/me/passbook");
        Assert.Empty(bobs.GetProperty("items").EnumerateArray());
        Assert.Equal(0, bobs.GetProperty("totalPoints").GetInt64());
    }

    [Fact]
    public async Task Someone_else_asking_for_a_passbook_is_refused()
    {
        var (businessId, businessToken) = await factory.ClientTokenAsync(ClientKind.Business);
        var (_, committeeToken) = await factory.SignInAsync(AccountKind.Committee, CommitteeRoles.Chair);
        foreach (var token in new[] { businessToken, committeeToken })
        {
            using var http = factory.CreateClientWithToken(token);
            Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync("/api/v1/me/passbook")).StatusCode);
        }
        using var anonymous = factory.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/me/passbook")).StatusCode);

        // The business's attempt is in the audit log (the refused route is recorded by the identity layer).
        await using var db = await factory.Connections.OpenAsync();
        Assert.True(await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM audit_log WHERE kind = @kind AND actor = @actor",
            new { kind = AuditKinds.AccessDenied, actor = $"client:{businessId}" }) >= 1);
    }

    [Fact]
    public async Task The_committee_filters_the_access_log_and_bad_filters_are_400()
    {
        var business = await factory.RegisterClientAsync(ClientKind.Business);
        var grant = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        var served = AccessStoreTests<SqliteFixture>.Entry(grant, business.ClientId, now.AddMinutes(-3));
        var throttled = AccessStoreTests<SqliteFixture>.Entry(grant, business.ClientId, now.AddMinutes(-2), AccessOutcomes.Throttled);
        await Store.RecordAsync(served, [], CancellationToken.None);
        await Store.RecordAsync(throttled, [], CancellationToken.None);
        await Store.RecordAsync(AccessStoreTests<SqliteFixture>.Entry(Guid.NewGuid(), business.ClientId, now), [], CancellationToken.None);

        var (_, token) = await factory.SignInAsync(AccountKind.Committee, CommitteeRoles.Member);
        using var http = factory.CreateClientWithToken(token);
        var page = await http.GetFromJsonAsync<JsonElement>($"/api/v1/committee/access-log?grantId={grant}");
        var entries = page.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal([throttled.Id, served.Id], entries.Select(e => e.GetProperty("id").GetGuid()));
        Assert.Equal("throttled", entries[0].GetProperty("outcome").GetString());
        Assert.Equal(["consent ok"], entries[1].GetProperty("reasons").EnumerateArray().Select(r => r.GetString()));
        var byBusiness = await http.GetFromJsonAsync<JsonElement>($"/api/v1/committee/access-log?business={business.ClientId}");
        Assert.Equal(3, byBusiness.GetProperty("items").GetArrayLength());

        foreach (var bad in new[] { "limit=0", "limit=501", "grantId=not-a-guid", $"from={Uri.EscapeDataString(now.ToString("O"))}&to={Uri.EscapeDataString(now.AddHours(-1).ToString("O"))}" })
        {
            var response = await http.GetAsync($"/api/v1/committee/access-log?{bad}");
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/api/v1/committee/alerts?limit=0")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/api/v1/committee/alerts?grantId={grant}")).StatusCode);
    }
}
