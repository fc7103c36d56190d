using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Identity;

/// <summary>
/// Tokens are bound to the client they were issued to: only that client may introspect (anyone else
/// is told <c>active: false</c>, RFC 7662 §4) or revoke them (anyone else is refused and revokes
/// nothing, RFC 7009 §2.1). Access tokens travel only in the Authorization header.
/// </summary>
public sealed class TokenBindingTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    // A business token works as a business token: 403 on an operator route; 401 once revoked.
    private const string ProbeRoute = "/api/v1/admin/accounts";

    [Fact]
    public async Task A_business_cannot_introspect_another_clients_token()
    {
        var owner = await factory.RegisterClientAsync(ClientKind.Business);
        var other = await factory.RegisterClientAsync(ClientKind.Business);
        var token = await factory.ClientCredentialsTokenAsync(owner.ClientId, owner.ClientSecret);

        var foreign = await IntrospectAsync(other, token);
        Assert.False(foreign.GetProperty("active").GetBoolean());
        Assert.Single(foreign.EnumerateObject());

        var own = await IntrospectAsync(owner, token);
        Assert.True(own.GetProperty("active").GetBoolean());
        Assert.Equal(owner.ClientId, own.GetProperty("client_id").GetString());
    }

    [Fact]
    public async Task A_business_cannot_introspect_a_residents_token_and_learn_the_account_id()
    {
        var business = await factory.RegisterClientAsync(ClientKind.Business);
        var account = await factory.CreateAccountAsync(AccountKind.Resident);
        var tokens = await factory.RunCodeFlowAsync(account.Account.Username, TestTokens.TestPassword, "resident");

        foreach (var token in new[] { tokens.AccessToken, tokens.RefreshToken! })
        {
            var answer = await IntrospectAsync(business, token);
            Assert.False(answer.GetProperty("active").GetBoolean());
            Assert.DoesNotContain(account.Account.Id.ToString(), answer.GetRawText());
        }
    }

    [Fact]
    public async Task A_business_cannot_revoke_another_clients_token()
    {
        var owner = await factory.RegisterClientAsync(ClientKind.Business);
        var other = await factory.RegisterClientAsync(ClientKind.Business);
        var token = await factory.ClientCredentialsTokenAsync(owner.ClientId, owner.ClientSecret);

        var refused = await RevokeAsync(other.ClientId, other.ClientSecret, token);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("unauthorized_client", await TestTokens.OAuthErrorOf(refused));
        Assert.Equal(HttpStatusCode.Forbidden, await ProbeAsync(token));

        // The attempt is on the record, by the client that made it (it proved its secret).
        await using var connection = await factory.Connections.OpenAsync();
        var payload = await connection.QuerySingleAsync<string>(
            "SELECT payload FROM audit_log WHERE kind = 'access.denied' AND actor = @actor", new { actor = $"client:{other.ClientId}" });
        Assert.Contains("token-of-another-client", payload);
        Assert.Contains("revoke", payload);
        Assert.DoesNotContain(token, payload);

        Assert.Equal(HttpStatusCode.OK, (await RevokeAsync(owner.ClientId, owner.ClientSecret, token)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, await ProbeAsync(token));
    }

    [Fact]
    public async Task A_public_client_cannot_revoke_a_machine_token()
    {
        await factory.EnsureTestAppAsync();
        var (_, token) = await factory.ClientTokenAsync(ClientKind.Business);

        var refused = await RevokeAsync(TestTokens.TestAppClientId, null, token);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("unauthorized_client", await TestTokens.OAuthErrorOf(refused));
        Assert.Equal(HttpStatusCode.Forbidden, await ProbeAsync(token));
    }

    [Fact]
    public async Task Neither_another_people_app_nor_a_business_can_revoke_a_residents_refresh_token()
    {
        var otherApp = "other-app-" + Guid.NewGuid().ToString("N")[..8];
        using (var scope = factory.Services.CreateScope())
        {
            await scope.ServiceProvider.GetRequiredService<ClientRegistry>().RegisterPeopleAppAsync(otherApp, "Other app", [new Uri("http://localhost/other")]);
        }
        var business = await factory.RegisterClientAsync(ClientKind.Business);
        var account = await factory.CreateAccountAsync(AccountKind.Resident);
        var tokens = await factory.RunCodeFlowAsync(account.Account.Username, TestTokens.TestPassword, "resident");

        Assert.Equal("unauthorized_client", await TestTokens.OAuthErrorOf(await RevokeAsync(otherApp, null, tokens.RefreshToken!)));
        Assert.Equal("unauthorized_client", await TestTokens.OAuthErrorOf(await RevokeAsync(business.ClientId, business.ClientSecret, tokens.RefreshToken!)));
        Assert.Equal("unauthorized_client", await TestTokens.OAuthErrorOf(await RevokeAsync(business.ClientId, business.ClientSecret, tokens.AccessToken)));

        // Still the resident's: the refresh token works, then its own app revokes it.
        var refreshed = await TestTokens.PersonTokensOf(await factory.RequestTokenAsync(TestTokens.Refresh(tokens.RefreshToken!)));
        Assert.Equal(HttpStatusCode.OK, (await RevokeAsync(TestTokens.TestAppClientId, null, refreshed.RefreshToken!)).StatusCode);
        Assert.Equal("invalid_grant", await TestTokens.OAuthErrorOf(await factory.RequestTokenAsync(TestTokens.Refresh(refreshed.RefreshToken!))));
    }

    [Fact]
    public async Task Wrong_secrets_at_introspection_and_revocation_are_audited_like_the_token_endpoint()
    {
        var client = await factory.RegisterClientAsync(ClientKind.Business);
        var token = await factory.ClientCredentialsTokenAsync(client.ClientId, client.ClientSecret);
        using var http = factory.CreateClient();
        foreach (var endpoint in new[] { "introspect", "revoke" })
        {
            var response = await http.PostAsync("/connect/" + endpoint, new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["client_id"] = client.ClientId,
                ["client_secret"] = "wrong-" + client.ClientSecret,
                ["token"] = token,
            }));
            Assert.Equal("invalid_client", await TestTokens.OAuthErrorOf(response));
        }

        await using var connection = await factory.Connections.OpenAsync();
        var payloads = (await connection.QueryAsync<string>("SELECT payload FROM audit_log WHERE kind = 'signin.failed' AND actor = 'anonymous'")).ToList();
        foreach (var endpoint in new[] { "introspect", "revoke" })
        {
            Assert.Contains(payloads, p => p.Contains($"\"{endpoint}\"") && p.Contains("invalid_client") && p.Contains(client.ClientId));
        }
        Assert.DoesNotContain(payloads, p => p.Contains(client.ClientSecret) || p.Contains(token));
        // The token survived both attempts.
        Assert.Equal(HttpStatusCode.Forbidden, await ProbeAsync(token));
    }

    [Fact]
    public async Task Introspection_by_GET_is_refused_before_the_secret_is_checked()
    {
        var client = await factory.RegisterClientAsync(ClientKind.Business);
        var token = await factory.ClientCredentialsTokenAsync(client.ClientId, client.ClientSecret);
        using var http = factory.CreateClient();
        var response = await http.GetAsync($"/connect/introspect?client_id={client.ClientId}&client_secret={Uri.EscapeDataString(client.ClientSecret)}&token={token}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_request", await TestTokens.OAuthErrorOf(response));
    }

    [Fact]
    public async Task Access_tokens_in_the_query_string_or_form_body_do_not_authenticate()
    {
        var (_, token) = await factory.SignInAsync(AccountKind.Operator);
        using var http = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

        var query = await http.GetAsync($"{ProbeRoute}?access_token={token}");
        Assert.True(query.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.BadRequest, $"query: {(int)query.StatusCode}");
        var form = await http.PostAsync("/api/v1/admin/accounts/00000000-0000-0000-0000-000000000001/unlock", new FormUrlEncodedContent(new Dictionary<string, string> { ["access_token"] = token }));
        Assert.True(form.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.BadRequest, $"form: {(int)form.StatusCode}");

        // The same token in the header works.
        using var bearer = factory.CreateClientWithToken(token);
        Assert.Equal(HttpStatusCode.OK, (await bearer.GetAsync(ProbeRoute)).StatusCode);
    }

    [Fact]
    public async Task Userinfo_takes_the_access_token_from_the_header_only()
    {
        var (_, token) = await factory.SignInAsync(AccountKind.Resident);
        using var http = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

        var query = await http.GetAsync($"/connect/userinfo?access_token={token}");
        Assert.Equal(HttpStatusCode.BadRequest, query.StatusCode);
        var form = await http.PostAsync("/connect/userinfo", new FormUrlEncodedContent(new Dictionary<string, string> { ["access_token"] = token }));
        Assert.Equal(HttpStatusCode.BadRequest, form.StatusCode);

        using var request = new HttpRequestMessage(HttpMethod.Get, "/connect/userinfo");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(request)).StatusCode);
    }

    private async Task<JsonElement> IntrospectAsync(CreatedClient caller, string token)
    {
        using var http = factory.CreateClient();
        var response = await http.PostAsync("/connect/introspect", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = caller.ClientId,
            ["client_secret"] = caller.ClientSecret,
            ["token"] = token,
        }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<HttpResponseMessage> RevokeAsync(string clientId, string? secret, string token)
    {
        var form = new Dictionary<string, string> { ["client_id"] = clientId, ["token"] = token };
        if (secret is not null)
        {
            form["client_secret"] = secret;
        }
        using var http = factory.CreateClient();
        return await http.PostAsync("/connect/revoke", new FormUrlEncodedContent(form));
    }

    private async Task<HttpStatusCode> ProbeAsync(string token)
    {
        using var http = factory.CreateClientWithToken(token);
        return (await http.GetAsync(ProbeRoute)).StatusCode;
    }
}
