using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Dapper;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Identity;

/// <summary>
/// Which refused API requests reach the append-only audit log: a 403 (a valid token of the wrong
/// kind) and a 401 for a token of ours that expired or was revoked; never a request whose
/// Authorization header holds something that is not one of our tokens.
/// </summary>
public sealed class RefusalAuditTests(RefusalAuditTests.Factory factory) : IClassFixture<RefusalAuditTests.Factory>
{
    public sealed class Factory : ClockedInfoBankFactory;

    private const string OperatorRoute = "/api/v1/admin/accounts";

    [Fact]
    public async Task Anything_in_the_Authorization_header_that_is_not_our_token_is_only_logged()
    {
        var (_, real) = await factory.SignInAsync(AccountKind.Operator);
        var tampered = real[..^6] + (real.EndsWith("AAAAAA", StringComparison.Ordinal) ? "BBBBBB" : "AAAAAA");
        // A JWS signed by someone else, shaped like a real token.
        var forged = "eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJ4Iiwic2NvcGUiOiJvcGVyYXRvciJ9.c2lnbmF0dXJl";
        var before = await DeniedCountAsync();

        using var http = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        foreach (var garbage in new[] { "garbage", tampered, forged, real + "x" })
        {
            for (var i = 0; i < 20; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, OperatorRoute);
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", garbage);
                Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(request)).StatusCode);
            }
        }
        using var basic = new HttpRequestMessage(HttpMethod.Get, OperatorRoute);
        basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", "dXNlcjpwYXNz");
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(basic)).StatusCode);

        Assert.Equal(before, await DeniedCountAsync());
    }

    [Fact]
    public async Task An_expired_token_of_ours_is_audited_with_its_holder()
    {
        factory.Time.Offset = TimeSpan.Zero;
        var (operatorId, token) = await factory.SignInAsync(AccountKind.Operator);
        using var http = factory.CreateClientWithToken(token);
        try
        {
            factory.Time.Offset = TimeSpan.FromMinutes(16);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(OperatorRoute)).StatusCode);
        }
        finally
        {
            factory.Time.Offset = TimeSpan.Zero;
        }

        var entry = Assert.Single(await DeniedAsync($"operator:{operatorId}"));
        Assert.Equal(401, entry.GetProperty("status").GetInt32());
        Assert.Equal(OperatorRoute, entry.GetProperty("route").GetString());
    }

    [Fact]
    public async Task A_revoked_token_of_ours_is_audited_with_its_holder()
    {
        var client = await factory.RegisterClientAsync(ClientKind.Business);
        var token = await factory.ClientCredentialsTokenAsync(client.ClientId, client.ClientSecret);
        using var anonymous = factory.CreateClient();
        var revoke = await anonymous.PostAsync("/connect/revoke", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = client.ClientId,
            ["client_secret"] = client.ClientSecret,
            ["token"] = token,
        }));
        Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);

        using var http = factory.CreateClientWithToken(token);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(OperatorRoute)).StatusCode);
        var entry = Assert.Single(await DeniedAsync($"client:{client.ClientId}"));
        Assert.Equal(401, entry.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task A_valid_token_of_the_wrong_kind_is_audited()
    {
        var (residentId, token) = await factory.SignInAsync(AccountKind.Resident);
        using var http = factory.CreateClientWithToken(token);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync(OperatorRoute)).StatusCode);
        var pseudonym = await factory.Services.GetRequiredService<InfoBank.Server.Features.Audit.AuditStore>().PseudonymOfAsync(residentId);
        var entry = Assert.Single(await DeniedAsync($"resident:{pseudonym}"));
        Assert.Equal(403, entry.GetProperty("status").GetInt32());
    }

    private async Task<int> DeniedCountAsync()
    {
        await using var connection = await factory.Connections.OpenAsync();
        return await connection.ExecuteScalarAsync<int>("SELECT COUNT(*) FROM audit_log WHERE kind = 'access.denied'");
    }

    private async Task<List<JsonElement>> DeniedAsync(string actor)
    {
        await using var connection = await factory.Connections.OpenAsync();
        var payloads = await connection.QueryAsync<string>("SELECT payload FROM audit_log WHERE kind = 'access.denied' AND actor = @actor", new { actor });
        return payloads.Select(p => JsonDocument.Parse(p).RootElement.Clone()).ToList();
    }
}

/// <summary>A server that audits at most <see cref="Refusals"/> refused routes per address per minute.</summary>
public sealed class RefusalBudgetFactory : InfoBankFactory
{
    public const int Refusals = 3;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Identity:RateLimits:AuditedRefusalsPerMinute", Refusals.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}

public sealed class RefusalAuditBudgetTests
{
    [Fact]
    public async Task Beyond_the_per_address_budget_refusals_are_answered_the_same_but_not_audited()
    {
        using var factory = new RefusalBudgetFactory();
        var (clientId, token) = await factory.ClientTokenAsync(ClientKind.DataSource);
        using var http = factory.CreateClientWithToken(token);
        for (var i = 0; i < 3 * RefusalBudgetFactory.Refusals; i++)
        {
            var response = await http.GetAsync("/api/v1/admin/accounts");
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        await using var connection = await factory.Connections.OpenAsync();
        Assert.Equal(RefusalBudgetFactory.Refusals, await connection.ExecuteScalarAsync<int>(
            "SELECT COUNT(*) FROM audit_log WHERE kind = 'access.denied' AND actor = @actor", new { actor = $"client:{clientId}" }));
    }
}
