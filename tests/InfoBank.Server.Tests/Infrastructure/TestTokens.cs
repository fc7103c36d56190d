using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using InfoBank.Core.Crypto;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Auth;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Infrastructure;

/// <summary>
/// Real tokens from the in-process server under test, for HTTP tests of any feature.
/// <code>
/// var (residentId, token) = await factory.SignInAsync(AccountKind.Resident);      // code + PKCE over HTTP
/// var (chairId, token) = await factory.SignInAsync(AccountKind.Committee, CommitteeRoles.Chair);
/// var (clientId, token) = await factory.ClientTokenAsync(ClientKind.DataSource);  // client credentials
/// using var http = factory.CreateClientWithToken(token);                         // bearer set
/// </code>
/// Accounts and clients are created through the same services the CLI uses (AccountService,
/// ClientRegistry), each with a fresh unique name, so tests do not see each other's callers.
/// <see cref="SignInAsync"/> drives the whole browser flow: GET /connect/authorize, follow to the
/// sign-in page, POST the form with its anti-forgery token, follow back, exchange the code at
/// /connect/token. Use <see cref="RunCodeFlowAsync"/> for the tokens and the lower-level steps
/// (refresh token, id token) and <see cref="RequestTokenAsync"/> for hand-made token requests.
/// </summary>
public static partial class TestTokens
{
    /// <summary>The public client the helpers sign people in through.</summary>
    public const string TestAppClientId = "infobank-tests";

    public static readonly Uri TestRedirectUri = new("http://localhost/test-callback");

    public const string TestPassword = "correct horse battery staple";

    /// <summary>Creates a person of <paramref name="kind"/> and signs them in through code + PKCE.</summary>
    public static async Task<(Guid AccountId, string AccessToken)> SignInAsync(this InfoBankFactory factory, AccountKind kind, string? committeeRole = null)
    {
        var account = await factory.CreateAccountAsync(kind, committeeRole);
        var tokens = await factory.RunCodeFlowAsync(account.Account.Username, TestPassword, kind.Scope());
        return (account.Account.Id, tokens.AccessToken);
    }

    /// <summary>Registers a machine client of <paramref name="kind"/> and gets a client-credentials token.</summary>
    public static async Task<(string ClientId, string AccessToken)> ClientTokenAsync(this InfoBankFactory factory, ClientKind kind)
    {
        var client = await factory.RegisterClientAsync(kind);
        return (client.ClientId, await factory.ClientCredentialsTokenAsync(client.ClientId, client.ClientSecret));
    }

    public static async Task<CreatedAccount> CreateAccountAsync(this InfoBankFactory factory, AccountKind kind, string? committeeRole = null, string password = TestPassword)
    {
        if (kind == AccountKind.Committee)
        {
            committeeRole ??= CommitteeRoles.Member;
        }
        var username = $"t-{kind.ToText()}-{Guid.NewGuid().ToString("N")[..12]}";
        using var scope = factory.Services.CreateScope();
        var accounts = scope.ServiceProvider.GetRequiredService<AccountService>();
        return await accounts.CreateAsync(new NewAccount(username, $"Test {kind}", kind, committeeRole, password));
    }

    public static async Task<CreatedClient> RegisterClientAsync(this InfoBankFactory factory, ClientKind kind)
    {
        using var scope = factory.Services.CreateScope();
        var clients = scope.ServiceProvider.GetRequiredService<ClientRegistry>();
        return await clients.RegisterMachineClientAsync(kind, $"Test {kind}");
    }

    public static async Task<string> ClientCredentialsTokenAsync(this InfoBankFactory factory, string clientId, string clientSecret, string? scope = null)
    {
        var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["client_id"] = clientId, ["client_secret"] = clientSecret };
        if (scope is not null)
        {
            form["scope"] = scope;
        }
        var response = await factory.RequestTokenAsync(form);
        return await AccessTokenOf(response);
    }

    /// <summary>A client with the bearer token set on every request.</summary>
    public static HttpClient CreateClientWithToken(this InfoBankFactory factory, string accessToken)
    {
        var client = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return client;
    }

    public static async Task<HttpResponseMessage> RequestTokenAsync(this InfoBankFactory factory, IDictionary<string, string> form)
    {
        using var client = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        return await client.PostAsync("/connect/token", new FormUrlEncodedContent(form));
    }

    /// <summary>Registers the test harness's public client once per server.</summary>
    public static async Task EnsureTestAppAsync(this InfoBankFactory factory)
    {
        using var scope = factory.Services.CreateScope();
        var clients = scope.ServiceProvider.GetRequiredService<ClientRegistry>();
        if (!await clients.ExistsAsync(TestAppClientId))
        {
            try
            {
                await clients.RegisterPeopleAppAsync(TestAppClientId, "Test harness", [TestRedirectUri]);
            }
            catch (ClientRejectedException)
            {
                // Another test registered it first; anything else fails below.
                Assert.True(await clients.ExistsAsync(TestAppClientId));
            }
        }
    }

    public sealed record PersonTokens(string AccessToken, string? RefreshToken, string? IdentityToken, JsonElement Response);

    /// <summary>A PKCE pair: a random verifier and its S256 challenge.</summary>
    public static (string Verifier, string Challenge) NewPkce()
    {
        var verifier = Base64Url.Encode(RandomNumberGenerator.GetBytes(32));
        return (verifier, Base64Url.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))));
    }

    /// <summary>The authorization request URL the helpers use; tests vary it for bad-input cases.</summary>
    public static string AuthorizeUrl(string challenge, string scope, string state, string? redirectUri = null, string clientId = TestAppClientId, string method = "S256") =>
        QueryHelpers.AddQueryString("/connect/authorize", new Dictionary<string, string?>
        {
            ["client_id"] = clientId,
            ["redirect_uri"] = redirectUri ?? TestRedirectUri.ToString(),
            ["response_type"] = "code",
            ["scope"] = $"openid offline_access {scope}",
            ["code_challenge"] = challenge,
            ["code_challenge_method"] = method,
            ["state"] = state,
        });

    /// <summary>Signs in over HTTP and returns the authorization code (before it is exchanged).</summary>
    public static async Task<string> GetAuthorizationCodeAsync(this InfoBankFactory factory, string username, string password, string scope, string challenge)
    {
        await factory.EnsureTestAppAsync();
        using var browser = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var state = Guid.NewGuid().ToString("N");

        var toSignIn = await browser.GetAsync(AuthorizeUrl(challenge, scope, state));
        Assert.Equal(HttpStatusCode.Redirect, toSignIn.StatusCode);
        var signInUrl = toSignIn.Headers.Location!.ToString();
        Assert.Contains("/signin", signInUrl);

        var back = await browser.PostAsync(signInUrl, await SignInFormAsync(browser, signInUrl, username, password));
        Assert.True(back.StatusCode == HttpStatusCode.Redirect, $"sign-in did not redirect back: {(int)back.StatusCode}");

        var toCallback = await browser.GetAsync(back.Headers.Location);
        Assert.Equal(HttpStatusCode.Redirect, toCallback.StatusCode);
        var callback = toCallback.Headers.Location!;
        Assert.StartsWith(TestRedirectUri.ToString(), callback.ToString());
        var query = QueryHelpers.ParseQuery(callback.Query);
        Assert.Equal(state, query["state"].ToString());
        Assert.True(query.ContainsKey("code"), $"no code in the callback: {callback}");
        return query["code"].ToString();
    }

    /// <summary>GETs the sign-in page and builds its form, anti-forgery token included.</summary>
    public static async Task<FormUrlEncodedContent> SignInFormAsync(HttpClient browser, string signInUrl, string username, string password)
    {
        var page = await browser.GetAsync(signInUrl);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        var antiforgery = HiddenInput(html, "__RequestVerificationToken") ?? throw new InvalidOperationException("The sign-in page has no anti-forgery token.");
        return new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Username"] = username,
            ["Password"] = password,
            ["ReturnUrl"] = HiddenInput(html, "ReturnUrl") ?? "",
            ["__RequestVerificationToken"] = antiforgery,
        });
    }

    /// <summary>The whole code + PKCE flow; returns the token response.</summary>
    public static async Task<PersonTokens> RunCodeFlowAsync(this InfoBankFactory factory, string username, string password, string scope)
    {
        var (verifier, challenge) = NewPkce();
        var code = await factory.GetAuthorizationCodeAsync(username, password, scope, challenge);
        var response = await factory.RequestTokenAsync(CodeExchange(code, verifier));
        return await PersonTokensOf(response);
    }

    public static Dictionary<string, string> CodeExchange(string code, string verifier) => new()
    {
        ["grant_type"] = "authorization_code",
        ["client_id"] = TestAppClientId,
        ["redirect_uri"] = TestRedirectUri.ToString(),
        ["code"] = code,
        ["code_verifier"] = verifier,
    };

    public static Dictionary<string, string> Refresh(string refreshToken) => new()
    {
        ["grant_type"] = "refresh_token",
        ["client_id"] = TestAppClientId,
        ["refresh_token"] = refreshToken,
    };

    public static async Task<PersonTokens> PersonTokensOf(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"token request failed: {(int)response.StatusCode} {text}");
        using var json = JsonDocument.Parse(text);
        var root = json.RootElement.Clone();
        return new PersonTokens(
            root.GetProperty("access_token").GetString()!,
            root.TryGetProperty("refresh_token", out var refresh) ? refresh.GetString() : null,
            root.TryGetProperty("id_token", out var id) ? id.GetString() : null,
            root);
    }

    private static async Task<string> AccessTokenOf(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"token request failed: {(int)response.StatusCode} {text}");
        var body = JsonSerializer.Deserialize<JsonElement>(text);
        return body.GetProperty("access_token").GetString()!;
    }

    /// <summary>The OAuth error code of a refused token-endpoint request.</summary>
    public static async Task<string?> OAuthErrorOf(HttpResponseMessage response)
    {
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.TryGetProperty("error", out var error) ? error.GetString() : null;
    }

    private static string? HiddenInput(string html, string name)
    {
        foreach (Match input in InputTag().Matches(html))
        {
            var tag = input.Value;
            if (tag.Contains($"name=\"{name}\"", StringComparison.Ordinal))
            {
                var value = ValueAttribute().Match(tag);
                return value.Success ? WebUtility.HtmlDecode(value.Groups[1].Value) : "";
            }
        }
        return null;
    }

    [GeneratedRegex("<input[^>]*>")]
    private static partial Regex InputTag();

    [GeneratedRegex("value=\"([^\"]*)\"")]
    private static partial Regex ValueAttribute();
}
