using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Pages;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.WebUtilities;

namespace InfoBank.Server.Tests.Identity;

public sealed class IdentityFlowTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    private HttpClient Anonymous() => factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

    [Fact]
    public async Task Discovery_names_the_endpoints_and_only_s256()
    {
        var doc = await Anonymous().GetFromJsonAsync<JsonElement>("/.well-known/openid-configuration");
        Assert.EndsWith("/connect/token", doc.GetProperty("token_endpoint").GetString());
        Assert.EndsWith("/connect/authorize", doc.GetProperty("authorization_endpoint").GetString());
        Assert.EndsWith("/connect/introspect", doc.GetProperty("introspection_endpoint").GetString());
        Assert.EndsWith("/connect/revoke", doc.GetProperty("revocation_endpoint").GetString());
        Assert.Equal(["S256"], doc.GetProperty("code_challenge_methods_supported").EnumerateArray().Select(e => e.GetString()));
        var grants = doc.GetProperty("grant_types_supported").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Contains("client_credentials", grants);
        Assert.Contains("authorization_code", grants);
        Assert.Contains("refresh_token", grants);
        Assert.DoesNotContain("password", grants);
    }

    [Fact]
    public async Task Jwks_publishes_the_signing_key_without_private_parts()
    {
        var doc = await Anonymous().GetFromJsonAsync<JsonElement>("/.well-known/openid-configuration");
        var jwks = await Anonymous().GetFromJsonAsync<JsonElement>(new Uri(doc.GetProperty("jwks_uri").GetString()!).PathAndQuery);
        var keys = jwks.GetProperty("keys").EnumerateArray().ToList();
        var key = Assert.Single(keys);
        Assert.Equal("RSA", key.GetProperty("kty").GetString());
        Assert.Equal("sig", key.GetProperty("use").GetString());
        Assert.False(string.IsNullOrEmpty(key.GetProperty("kid").GetString()));
        Assert.False(key.TryGetProperty("d", out _));
        Assert.False(key.TryGetProperty("p", out _));
    }

    [Fact]
    public async Task Client_credentials_token_carries_the_kind_scope_and_client_id()
    {
        var client = await factory.RegisterClientAsync(ClientKind.DataSource);
        var response = await factory.RequestTokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = client.ClientId,
            ["client_secret"] = client.ClientSecret,
        });
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.InRange(body.GetProperty("expires_in").GetInt32(), 595, 600);
        Assert.Equal("deposit", body.GetProperty("scope").GetString());
        Assert.False(body.TryGetProperty("refresh_token", out _));

        var introspection = await Introspect(client, body.GetProperty("access_token").GetString()!);
        Assert.True(introspection.GetProperty("active").GetBoolean());
        Assert.Equal(client.ClientId, introspection.GetProperty("client_id").GetString());
    }

    [Fact]
    public async Task Wrong_secret_is_invalid_client()
    {
        var client = await factory.RegisterClientAsync(ClientKind.Business);
        var response = await factory.RequestTokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = client.ClientId,
            ["client_secret"] = client.ClientSecret + "x",
        });
        Assert.True((int)response.StatusCode is 400 or 401);
        Assert.Equal("invalid_client", await TestTokens.OAuthErrorOf(response));
    }

    [Fact]
    public async Task Unknown_client_is_invalid_client()
    {
        var response = await factory.RequestTokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = "business-nobody",
            ["client_secret"] = "whatever",
        });
        Assert.True((int)response.StatusCode is 400 or 401);
        Assert.Equal("invalid_client", await TestTokens.OAuthErrorOf(response));
    }

    [Fact]
    public async Task Machine_client_cannot_ask_for_another_kinds_scope()
    {
        var client = await factory.RegisterClientAsync(ClientKind.DataSource);
        foreach (var scope in new[] { "business", "resident", "operator" })
        {
            var response = await factory.RequestTokenAsync(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials",
                ["client_id"] = client.ClientId,
                ["client_secret"] = client.ClientSecret,
                ["scope"] = scope,
            });
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            // OpenIddict answers a scope outside the client's permissions with invalid_request (ID2051).
            Assert.Contains(await TestTokens.OAuthErrorOf(response), new[] { "invalid_scope", "invalid_request" });
        }
    }

    [Fact]
    public async Task Machine_client_cannot_use_the_code_flow()
    {
        var client = await factory.RegisterClientAsync(ClientKind.Business);
        var (_, challenge) = TestTokens.NewPkce();
        var response = await Anonymous().GetAsync(TestTokens.AuthorizeUrl(challenge, "business", "s", redirectUri: "http://localhost/x", clientId: client.ClientId));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Code_flow_gives_a_resident_token_with_refresh_and_identity_tokens()
    {
        var account = await factory.CreateAccountAsync(AccountKind.Resident);
        var tokens = await factory.RunCodeFlowAsync(account.Account.Username, TestTokens.TestPassword, "resident");
        Assert.NotNull(tokens.RefreshToken);
        Assert.NotNull(tokens.IdentityToken);
        Assert.InRange(tokens.Response.GetProperty("expires_in").GetInt32(), 895, 900);
        Assert.Equal("offline_access openid resident", string.Join(' ', tokens.Response.GetProperty("scope").GetString()!.Split(' ').Order(StringComparer.Ordinal)));

        // The id token's subject is the account id every feature uses as the resident id.
        var payload = JsonSerializer.Deserialize<JsonElement>(WebEncoders.Base64UrlDecode(tokens.IdentityToken!.Split('.')[1]));
        Assert.Equal(account.Account.Id.ToString("D"), payload.GetProperty("sub").GetString());
    }

    [Fact]
    public async Task Person_cannot_be_granted_another_kinds_scope()
    {
        var account = await factory.CreateAccountAsync(AccountKind.Resident);
        await factory.EnsureTestAppAsync();
        using var browser = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var (_, challenge) = TestTokens.NewPkce();
        var toSignIn = await browser.GetAsync(TestTokens.AuthorizeUrl(challenge, "operator", "s1"));
        var signInUrl = toSignIn.Headers.Location!.ToString();
        var back = await browser.PostAsync(signInUrl, await TestTokens.SignInFormAsync(browser, signInUrl, account.Account.Username, TestTokens.TestPassword));
        var callback = await browser.GetAsync(back.Headers.Location);

        Assert.Equal(HttpStatusCode.Redirect, callback.StatusCode);
        var query = QueryHelpers.ParseQuery(callback.Headers.Location!.Query);
        Assert.Equal("access_denied", query["error"].ToString());
        Assert.False(query.ContainsKey("code"));
    }

    [Fact]
    public async Task Unregistered_redirect_uri_is_refused_without_redirecting()
    {
        await factory.EnsureTestAppAsync();
        var (_, challenge) = TestTokens.NewPkce();
        var response = await Anonymous().GetAsync(TestTokens.AuthorizeUrl(challenge, "resident", "s", redirectUri: "http://evil.example/callback"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
    }

    [Fact]
    public async Task Missing_pkce_challenge_is_refused()
    {
        await factory.EnsureTestAppAsync();
        var url = QueryHelpers.AddQueryString("/connect/authorize", new Dictionary<string, string?>
        {
            ["client_id"] = TestTokens.TestAppClientId,
            ["redirect_uri"] = TestTokens.TestRedirectUri.ToString(),
            ["response_type"] = "code",
            ["scope"] = "openid resident",
            ["state"] = "s",
        });
        var response = await Anonymous().GetAsync(url);
        Assert.Equal("invalid_request", await AuthorizationErrorOf(response));
    }

    [Fact]
    public async Task Plain_pkce_method_is_refused()
    {
        await factory.EnsureTestAppAsync();
        var (verifier, _) = TestTokens.NewPkce();
        var response = await Anonymous().GetAsync(TestTokens.AuthorizeUrl(verifier, "resident", "s", method: "plain"));
        Assert.Equal("invalid_request", await AuthorizationErrorOf(response));
    }

    [Fact]
    public async Task Wrong_or_missing_pkce_verifier_is_invalid_grant()
    {
        var account = await factory.CreateAccountAsync(AccountKind.Resident);
        var (_, challenge) = TestTokens.NewPkce();
        var code = await factory.GetAuthorizationCodeAsync(account.Account.Username, TestTokens.TestPassword, "resident", challenge);

        var wrong = await factory.RequestTokenAsync(TestTokens.CodeExchange(code, TestTokens.NewPkce().Verifier));
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        Assert.Equal("invalid_grant", await TestTokens.OAuthErrorOf(wrong));

        var (_, challenge2) = TestTokens.NewPkce();
        var code2 = await factory.GetAuthorizationCodeAsync(account.Account.Username, TestTokens.TestPassword, "resident", challenge2);
        var exchange = TestTokens.CodeExchange(code2, "");
        exchange.Remove("code_verifier");
        var missing = await factory.RequestTokenAsync(exchange);
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Contains(await TestTokens.OAuthErrorOf(missing), new[] { "invalid_request", "invalid_grant" });
    }

    [Fact]
    public async Task Replayed_code_is_invalid_grant_and_revokes_what_it_issued()
    {
        var account = await factory.CreateAccountAsync(AccountKind.Operator);
        var (verifier, challenge) = TestTokens.NewPkce();
        var code = await factory.GetAuthorizationCodeAsync(account.Account.Username, TestTokens.TestPassword, "operator", challenge);
        var first = await TestTokens.PersonTokensOf(await factory.RequestTokenAsync(TestTokens.CodeExchange(code, verifier)));

        var replay = await factory.RequestTokenAsync(TestTokens.CodeExchange(code, verifier));
        Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
        Assert.Equal("invalid_grant", await TestTokens.OAuthErrorOf(replay));

        // A replayed code means it leaked: the tokens bought with it stop working too.
        using var http = factory.CreateClientWithToken(first.AccessToken);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/v1/admin/accounts")).StatusCode);
        var refresh = await factory.RequestTokenAsync(TestTokens.Refresh(first.RefreshToken!));
        Assert.Equal("invalid_grant", await TestTokens.OAuthErrorOf(refresh));
    }

    [Fact]
    public async Task Refresh_rolls_and_a_used_refresh_token_is_refused()
    {
        var account = await factory.CreateAccountAsync(AccountKind.Auditor);
        var first = await factory.RunCodeFlowAsync(account.Account.Username, TestTokens.TestPassword, "audit");

        var second = await TestTokens.PersonTokensOf(await factory.RequestTokenAsync(TestTokens.Refresh(first.RefreshToken!)));
        Assert.NotEqual(first.RefreshToken, second.RefreshToken);
        Assert.Contains("audit", second.Response.GetProperty("scope").GetString());

        var reuse = await factory.RequestTokenAsync(TestTokens.Refresh(first.RefreshToken!));
        Assert.Equal(HttpStatusCode.BadRequest, reuse.StatusCode);
        Assert.Equal("invalid_grant", await TestTokens.OAuthErrorOf(reuse));

        // Reuse of a rolled token revokes the whole chain, the newest refresh token included.
        var after = await factory.RequestTokenAsync(TestTokens.Refresh(second.RefreshToken!));
        Assert.Equal("invalid_grant", await TestTokens.OAuthErrorOf(after));
    }

    [Fact]
    public async Task Revoked_access_token_is_refused_at_once()
    {
        var (_, token) = await factory.SignInAsync(AccountKind.Operator);
        using var http = factory.CreateClientWithToken(token);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/v1/admin/clients")).StatusCode);

        var revoke = await Anonymous().PostAsync("/connect/revoke", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = TestTokens.TestAppClientId,
            ["token"] = token,
        }));
        Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);

        var refused = await http.GetAsync("/api/v1/admin/clients");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("invalid_token", refused.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task Revoked_client_token_is_inactive_at_introspection()
    {
        var client = await factory.RegisterClientAsync(ClientKind.Business);
        var token = await factory.ClientCredentialsTokenAsync(client.ClientId, client.ClientSecret);
        var revoke = await Anonymous().PostAsync("/connect/revoke", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = client.ClientId,
            ["client_secret"] = client.ClientSecret,
            ["token"] = token,
        }));
        Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        Assert.False((await Introspect(client, token)).GetProperty("active").GetBoolean());
    }

    [Fact]
    public async Task Tampered_token_is_401_with_a_problem_body()
    {
        var (_, token) = await factory.SignInAsync(AccountKind.Operator);
        using var http = factory.CreateClientWithToken(token[..^6] + (token.EndsWith("AAAAAA", StringComparison.Ordinal) ? "BBBBBB" : "AAAAAA"));
        var response = await http.GetAsync("/api/v1/admin/accounts");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Sign_in_messages_do_not_tell_unknown_names_from_wrong_passwords()
    {
        var account = await factory.CreateAccountAsync(AccountKind.Resident);
        using var browser = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

        var wrongPassword = await browser.PostAsync("/signin", await TestTokens.SignInFormAsync(browser, "/signin", account.Account.Username, "not the password"));
        var unknownName = await browser.PostAsync("/signin", await TestTokens.SignInFormAsync(browser, "/signin", "nobody-" + Guid.NewGuid().ToString("N")[..8], "not the password"));

        Assert.Equal(HttpStatusCode.Unauthorized, wrongPassword.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, unknownName.StatusCode);
        var a = await wrongPassword.Content.ReadAsStringAsync();
        var b = await unknownName.Content.ReadAsStringAsync();
        Assert.Contains(System.Net.WebUtility.HtmlEncode(SignInModel.FailureMessage), a);
        Assert.Contains(System.Net.WebUtility.HtmlEncode(SignInModel.FailureMessage), b);
        // Apart from the echoed username and the fresh anti-forgery token, the two pages are identical.
        static string WithoutValues(string html) => System.Text.RegularExpressions.Regex.Replace(html, "value=\"[^\"]*\"", "");
        Assert.Equal(WithoutValues(a), WithoutValues(b));
    }

    [Fact]
    public async Task Sign_in_without_the_anti_forgery_token_is_refused()
    {
        var account = await factory.CreateAccountAsync(AccountKind.Resident);
        using var browser = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        await browser.GetAsync("/signin");
        var response = await browser.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Username"] = account.Account.Username,
            ["Password"] = TestTokens.TestPassword,
        }));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
    }

    [Fact]
    public async Task Committee_token_carries_the_committee_role()
    {
        var account = await factory.CreateAccountAsync(AccountKind.Committee, "secretariat");
        var tokens = await factory.RunCodeFlowAsync(account.Account.Username, TestTokens.TestPassword, "committee");
        var payload = JsonSerializer.Deserialize<JsonElement>(WebEncoders.Base64UrlDecode(tokens.IdentityToken!.Split('.')[1]));
        Assert.Equal("secretariat", payload.GetProperty("role").GetString());
    }

    private async Task<JsonElement> Introspect(CreatedClient client, string token)
    {
        var response = await Anonymous().PostAsync("/connect/introspect", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = client.ClientId,
            ["client_secret"] = client.ClientSecret,
            ["token"] = token,
        }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>
    /// The OAuth error of a refused authorization request: OpenIddict answers with a 400 error page
    /// when it refuses before trusting the redirect URI (bad PKCE parameters are checked first).
    /// </summary>
    private static async Task<string?> AuthorizationErrorOf(HttpResponseMessage response)
    {
        if (response.StatusCode == HttpStatusCode.Redirect)
        {
            var location = response.Headers.Location!;
            Assert.StartsWith(TestTokens.TestRedirectUri.ToString(), location.ToString());
            return QueryHelpers.ParseQuery(location.Query)["error"].ToString();
        }
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        return body.Split('\n').FirstOrDefault(l => l.StartsWith("error:", StringComparison.Ordinal))?["error:".Length..].Trim();
    }
}
