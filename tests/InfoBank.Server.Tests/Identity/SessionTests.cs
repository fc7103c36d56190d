using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text.Json;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Identity;

/// <summary>
/// The sign-in session: max_age and prompt=login send a person through the sign-in page again,
/// auth_time says when they last did (in identity and access tokens, kept across refreshes),
/// userinfo tells a client who signed in, and RP-initiated logout ends the session.
/// </summary>
public sealed class SessionTests : IClassFixture<SessionTests.Factory>
{
    public sealed class Factory : ClockedInfoBankFactory
    {
        public const string AppId = "session-tests";
        public static readonly Uri Callback = new("http://localhost/session-tests/callback");
        public static readonly Uri AfterLogout = new("http://localhost/session-tests/signed-out");

        protected override IEnumerable<IApiModule> ExtraModules => [new AuthTimeProbe()];

        public async Task EnsureAppAsync()
        {
            using var scope = Services.CreateScope();
            var clients = scope.ServiceProvider.GetRequiredService<ClientRegistry>();
            if (!await clients.ExistsAsync(AppId))
            {
                await clients.RegisterPeopleAppAsync(AppId, "Session tests", [Callback], [AfterLogout]);
            }
        }
    }

    /// <summary>What an API sees of the sign-in moment, through <see cref="CallerClaims.AuthenticatedAt"/>.</summary>
    private sealed class AuthTimeProbe : IApiModule
    {
        public void MapEndpoints(IEndpointRouteBuilder routes) =>
            routes.MapGet("/test/auth-time", (ClaimsPrincipal user) => TypedResults.Ok(user.AuthenticatedAt()?.ToUnixTimeSeconds()))
                .RequireAuthorization(AuthPolicies.Resident);
    }

    private readonly Factory _factory;

    public SessionTests(Factory factory)
    {
        _factory = factory;
        _factory.Time.Offset = TimeSpan.Zero;
    }

    [Fact]
    public async Task Discovery_names_the_userinfo_and_end_session_endpoints()
    {
        using var http = _factory.CreateClient();
        var doc = await http.GetFromJsonAsync<JsonElement>("/.well-known/openid-configuration");
        Assert.EndsWith("/connect/userinfo", doc.GetProperty("userinfo_endpoint").GetString());
        Assert.EndsWith("/connect/endsession", doc.GetProperty("end_session_endpoint").GetString());
        Assert.Contains("profile", doc.GetProperty("scopes_supported").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Auth_time_is_in_identity_and_access_tokens_and_survives_a_refresh()
    {
        var browser = await Browser.SignedInAsync(_factory);
        var tokens = await browser.ExchangeAsync(browser.FirstCode!);
        var signedInAt = AuthTime(tokens.IdentityToken!);
        Assert.InRange(signedInAt, DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        Assert.Equal(signedInAt, await ApiAuthTimeAsync(tokens.AccessToken));

        // Refreshing is not signing in: the moment stays the sign-in's.
        _factory.Time.Offset = TimeSpan.FromMinutes(20);
        var refreshed = await TestTokens.PersonTokensOf(await _factory.RequestTokenAsync(Refresh(tokens.RefreshToken!)));
        Assert.Equal(signedInAt, AuthTime(refreshed.IdentityToken!));
        Assert.Equal(signedInAt, await ApiAuthTimeAsync(refreshed.AccessToken));
    }

    [Fact]
    public async Task Prompt_login_sends_a_signed_in_person_through_the_sign_in_page_again()
    {
        var browser = await Browser.SignedInAsync(_factory);
        var first = AuthTime((await browser.ExchangeAsync(browser.FirstCode!)).IdentityToken!);

        // Signed in: the next authorization goes straight back to the client.
        _factory.Time.Offset = TimeSpan.FromMinutes(2);
        Assert.NotNull(await browser.AuthorizeSilentlyAsync());

        var toSignIn = await browser.AuthorizeAsync(prompt: "login");
        Assert.Equal("/signin", toSignIn.AbsolutePath);
        var code = await browser.SignInAsync(toSignIn);
        var again = AuthTime((await browser.ExchangeAsync(code)).IdentityToken!);
        Assert.InRange(again - first, 110, 130);
    }

    [Fact]
    public async Task A_sign_in_older_than_max_age_needs_the_password_again()
    {
        var browser = await Browser.SignedInAsync(_factory);
        _factory.Time.Offset = TimeSpan.FromMinutes(10);

        Assert.NotNull(await browser.AuthorizeSilentlyAsync(maxAge: 3600));
        var toSignIn = await browser.AuthorizeAsync(maxAge: 300);
        Assert.Equal("/signin", toSignIn.AbsolutePath);

        // prompt=none cannot show the page: the client is told to send the person to sign in.
        var none = await browser.AuthorizeAsync(maxAge: 300, prompt: "none");
        Assert.StartsWith(Factory.Callback.ToString(), none.ToString());
        Assert.Equal("login_required", QueryHelpers.ParseQuery(none.Query)["error"].ToString());

        // max_age=0 means "sign in now", and a fresh sign-in satisfies it rather than looping.
        var zero = await browser.AuthorizeAsync(maxAge: 0);
        Assert.Equal("/signin", zero.AbsolutePath);
        var code = await browser.SignInAsync(zero);
        var tokens = await browser.ExchangeAsync(code);
        Assert.True(AuthTime(tokens.IdentityToken!) >= _factory.Time.GetUtcNow().ToUnixTimeSeconds() - 5);
    }

    [Fact]
    public async Task Userinfo_returns_the_subject_and_only_what_the_scopes_allow()
    {
        var plain = await Browser.SignedInAsync(_factory, committeeRole: CommitteeRoles.Chair);
        var plainTokens = await plain.ExchangeAsync(plain.FirstCode!);
        var info = await UserInfoAsync(plainTokens.AccessToken);
        Assert.Equal(HttpStatusCode.OK, info.StatusCode);
        var claims = await info.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal([("sub", plain.Account.Account.Id.ToString("D"))], claims.EnumerateObject().Select(p => (p.Name, p.Value.GetString())));

        var profile = await Browser.SignedInAsync(_factory, scope: "openid profile committee", committeeRole: CommitteeRoles.Chair);
        var profileTokens = await profile.ExchangeAsync(profile.FirstCode!);
        claims = await (await UserInfoAsync(profileTokens.AccessToken)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(profile.Account.Account.Id.ToString("D"), claims.GetProperty("sub").GetString());
        Assert.Equal(profile.Account.Account.DisplayName, claims.GetProperty("name").GetString());
        Assert.Equal(profile.Account.Account.Username, claims.GetProperty("preferred_username").GetString());
        Assert.Equal(3, claims.EnumerateObject().Count());
        // The identity token follows the same rule.
        Assert.False(Payload(plainTokens.IdentityToken!).TryGetProperty("name", out _));
        Assert.Equal(profile.Account.Account.DisplayName, Payload(profileTokens.IdentityToken!).GetProperty("name").GetString());
    }

    [Fact]
    public async Task Userinfo_refuses_machine_tokens_and_revoked_tokens()
    {
        var (_, machine) = await _factory.ClientTokenAsync(ClientKind.Business);
        var refused = await UserInfoAsync(machine);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("insufficient_scope", refused.Headers.WwwAuthenticate.ToString());

        var browser = await Browser.SignedInAsync(_factory);
        var tokens = await browser.ExchangeAsync(browser.FirstCode!);
        using var http = _factory.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/connect/revoke", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["client_id"] = Factory.AppId,
            ["token"] = tokens.AccessToken,
        }))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await UserInfoAsync(tokens.AccessToken)).StatusCode);
    }

    [Fact]
    public async Task Logout_with_an_id_token_hint_ends_the_session_returns_to_the_registered_uri_and_revokes_nothing()
    {
        var browser = await Browser.SignedInAsync(_factory);
        var tokens = await browser.ExchangeAsync(browser.FirstCode!);

        var logout = await browser.Http.GetAsync(QueryHelpers.AddQueryString("/connect/endsession", new Dictionary<string, string?>
        {
            ["id_token_hint"] = tokens.IdentityToken,
            ["post_logout_redirect_uri"] = Factory.AfterLogout.ToString(),
            ["state"] = "bye-123",
        }));
        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        var back = logout.Headers.Location!;
        Assert.StartsWith(Factory.AfterLogout.ToString(), back.ToString());
        Assert.Equal("bye-123", QueryHelpers.ParseQuery(back.Query)["state"].ToString());

        // The session is gone: authorizing again needs the password.
        Assert.Equal("/signin", (await browser.AuthorizeAsync()).AbsolutePath);
        // The app's tokens are its own business: still valid until it revokes them.
        using var api = _factory.CreateClientWithToken(tokens.AccessToken);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/test/auth-time")).StatusCode);
        await TestTokens.PersonTokensOf(await _factory.RequestTokenAsync(Refresh(tokens.RefreshToken!)));
    }

    [Fact]
    public async Task Logout_to_an_unregistered_uri_is_refused_without_redirecting_or_signing_out()
    {
        var browser = await Browser.SignedInAsync(_factory);
        var tokens = await browser.ExchangeAsync(browser.FirstCode!);
        foreach (var uri in new[] { "http://evil.example/", TestTokens.TestRedirectUri.ToString(), Factory.Callback.ToString() })
        {
            var logout = await browser.Http.GetAsync(QueryHelpers.AddQueryString("/connect/endsession", new Dictionary<string, string?>
            {
                ["client_id"] = Factory.AppId,
                ["id_token_hint"] = tokens.IdentityToken,
                ["post_logout_redirect_uri"] = uri,
            }));
            Assert.Equal(HttpStatusCode.BadRequest, logout.StatusCode);
            Assert.Null(logout.Headers.Location);
        }
        Assert.NotNull(await browser.AuthorizeSilentlyAsync());
    }

    [Fact]
    public async Task Logout_without_a_hint_asks_the_person_and_a_bare_link_signs_nobody_out()
    {
        var browser = await Browser.SignedInAsync(_factory);
        var logout = await browser.Http.GetAsync(QueryHelpers.AddQueryString("/connect/endsession", new Dictionary<string, string?>
        {
            ["client_id"] = Factory.AppId,
            ["post_logout_redirect_uri"] = Factory.AfterLogout.ToString(),
            ["state"] = "s-42",
        }));
        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        var confirm = logout.Headers.Location!.ToString();
        Assert.StartsWith("/signout?", confirm);
        // Following a link is not consent: still signed in.
        Assert.NotNull(await browser.AuthorizeSilentlyAsync());

        var page = await browser.Http.GetAsync(confirm);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("Sign out of InfoBank?", html);
        var fields = Browser.HiddenInputs(html);
        Assert.Equal("s-42", fields["state"]);

        // Posting the form without its anti-forgery token is not a confirmation either.
        var forged = await browser.Http.PostAsync("/connect/endsession", new FormUrlEncodedContent(fields.Where(f => f.Key != "__RequestVerificationToken")));
        Assert.StartsWith("/signout?", forged.Headers.Location!.ToString());
        Assert.NotNull(await browser.AuthorizeSilentlyAsync());

        var confirmed = await browser.Http.PostAsync("/connect/endsession", new FormUrlEncodedContent(fields));
        Assert.Equal(HttpStatusCode.Redirect, confirmed.StatusCode);
        Assert.StartsWith(Factory.AfterLogout.ToString(), confirmed.Headers.Location!.ToString());
        Assert.Equal("s-42", QueryHelpers.ParseQuery(confirmed.Headers.Location.Query)["state"].ToString());
        Assert.Equal("/signin", (await browser.AuthorizeAsync()).AbsolutePath);
    }

    [Fact]
    public async Task A_hint_for_someone_else_is_not_enough_to_sign_the_person_out()
    {
        var other = await Browser.SignedInAsync(_factory);
        var othersHint = (await other.ExchangeAsync(other.FirstCode!)).IdentityToken;
        var browser = await Browser.SignedInAsync(_factory);

        var logout = await browser.Http.GetAsync("/connect/endsession?id_token_hint=" + othersHint);
        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        Assert.StartsWith("/signout?", logout.Headers.Location!.ToString());
        Assert.DoesNotContain(othersHint!, logout.Headers.Location.ToString());
        Assert.NotNull(await browser.AuthorizeSilentlyAsync());
    }

    [Fact]
    public async Task Logout_without_a_post_logout_uri_ends_on_the_signed_out_page()
    {
        var browser = await Browser.SignedInAsync(_factory);
        var tokens = await browser.ExchangeAsync(browser.FirstCode!);
        var logout = await browser.Http.GetAsync("/connect/endsession?id_token_hint=" + tokens.IdentityToken);
        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        var page = await browser.Http.GetAsync(logout.Headers.Location);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("You are signed out.", await page.Content.ReadAsStringAsync());
        Assert.Equal("/signin", (await browser.AuthorizeAsync()).AbsolutePath);
    }

    private static Dictionary<string, string> Refresh(string refreshToken) => new()
    {
        ["grant_type"] = "refresh_token",
        ["client_id"] = Factory.AppId,
        ["refresh_token"] = refreshToken,
    };

    private async Task<long?> ApiAuthTimeAsync(string accessToken)
    {
        using var http = _factory.CreateClientWithToken(accessToken);
        return await http.GetFromJsonAsync<long?>("/test/auth-time");
    }

    private async Task<HttpResponseMessage> UserInfoAsync(string accessToken)
    {
        using var http = _factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/connect/userinfo");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return await http.SendAsync(request);
    }

    private static JsonElement Payload(string jwt) => JsonSerializer.Deserialize<JsonElement>(WebEncoders.Base64UrlDecode(jwt.Split('.')[1]));

    private static long AuthTime(string identityToken) => Payload(identityToken).GetProperty("auth_time").GetInt64();

    /// <summary>One person's browser: keeps the sign-in cookie and walks the redirects by hand.</summary>
    private sealed class Browser
    {
        private readonly Factory _factory;
        private string _verifier = "";

        private Browser(Factory factory, CreatedAccount account, string scope)
        {
            _factory = factory;
            Account = account;
            Scope = scope;
            Http = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        }

        public HttpClient Http { get; }

        public CreatedAccount Account { get; }

        public string Scope { get; }

        public string? FirstCode { get; private set; }

        public static async Task<Browser> SignedInAsync(Factory factory, string? scope = null, string? committeeRole = null)
        {
            await factory.EnsureAppAsync();
            var kind = committeeRole is null ? AccountKind.Resident : AccountKind.Committee;
            var account = await factory.CreateAccountAsync(kind, committeeRole);
            var browser = new Browser(factory, account, scope ?? $"openid offline_access {kind.Scope()}");
            var toSignIn = await browser.AuthorizeAsync();
            Assert.Equal("/signin", toSignIn.AbsolutePath);
            browser.FirstCode = await browser.SignInAsync(toSignIn);
            return browser;
        }

        /// <summary>GET /connect/authorize; returns where it redirects (the sign-in page or the client's callback).</summary>
        public async Task<Uri> AuthorizeAsync(int? maxAge = null, string? prompt = null)
        {
            var (verifier, challenge) = TestTokens.NewPkce();
            _verifier = verifier;
            var response = await Http.GetAsync(QueryHelpers.AddQueryString("/connect/authorize", new Dictionary<string, string?>
            {
                ["client_id"] = Factory.AppId,
                ["redirect_uri"] = Factory.Callback.ToString(),
                ["response_type"] = "code",
                ["scope"] = Scope,
                ["code_challenge"] = challenge,
                ["code_challenge_method"] = "S256",
                ["state"] = "st",
                ["max_age"] = maxAge?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["prompt"] = prompt,
            }.Where(p => p.Value is not null)));
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            return Absolute(response.Headers.Location!);
        }

        /// <summary>An authorization that needs no sign-in; the code, or null if it sent the person to sign in.</summary>
        public async Task<string?> AuthorizeSilentlyAsync(int? maxAge = null)
        {
            var next = await AuthorizeAsync(maxAge);
            return next.AbsolutePath == "/signin" ? null : CodeOf(next);
        }

        /// <summary>Posts the password on the sign-in page, follows back through the authorization endpoint; returns the code.</summary>
        public async Task<string> SignInAsync(Uri signInPage)
        {
            var url = signInPage.PathAndQuery;
            var back = await Http.PostAsync(url, await TestTokens.SignInFormAsync(Http, url, Account.Account.Username, TestTokens.TestPassword));
            Assert.Equal(HttpStatusCode.Redirect, back.StatusCode);
            var returnUrl = back.Headers.Location!.ToString();
            Assert.DoesNotContain("prompt=login", returnUrl);
            Assert.DoesNotContain("max_age", returnUrl);
            var toCallback = await Http.GetAsync(returnUrl);
            Assert.Equal(HttpStatusCode.Redirect, toCallback.StatusCode);
            return CodeOf(Absolute(toCallback.Headers.Location!));
        }

        public async Task<TestTokens.PersonTokens> ExchangeAsync(string code) =>
            await TestTokens.PersonTokensOf(await _factory.RequestTokenAsync(new Dictionary<string, string>
            {
                ["grant_type"] = "authorization_code",
                ["client_id"] = Factory.AppId,
                ["redirect_uri"] = Factory.Callback.ToString(),
                ["code"] = code,
                ["code_verifier"] = _verifier,
            }));

        public static Dictionary<string, string> HiddenInputs(string html) =>
            System.Text.RegularExpressions.Regex.Matches(html, "<input[^>]*type=\"hidden\"[^>]*>")
                .Select(m => (Name: Attribute(m.Value, "name"), Value: Attribute(m.Value, "value")))
                .ToDictionary(i => i.Name, i => WebUtility.HtmlDecode(i.Value));

        private static string Attribute(string tag, string name) =>
            System.Text.RegularExpressions.Regex.Match(tag, $" {name}=\"([^\"]*)\"").Groups[1].Value;

        private static Uri Absolute(Uri uri) => uri.IsAbsoluteUri ? uri : new Uri(new Uri("http://localhost"), uri);

        private static string CodeOf(Uri callback)
        {
            Assert.StartsWith(Factory.Callback.ToString(), callback.ToString());
            var query = QueryHelpers.ParseQuery(callback.Query);
            Assert.True(query.ContainsKey("code"), $"no code in {callback}");
            return query["code"].ToString();
        }
    }
}
