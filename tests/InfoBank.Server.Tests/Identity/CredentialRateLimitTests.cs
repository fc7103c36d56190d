using System.Net;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Tests.Foundation;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace InfoBank.Server.Tests.Identity;

/// <summary>A server with small per-address budgets for presenting credentials.</summary>
public sealed class RateLimitedFactory : InfoBankFactory
{
    public const int SignIns = 3;
    public const int TokenRequests = 4;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Identity:RateLimits:SignInsPerMinute", SignIns.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("Identity:RateLimits:TokenRequestsPerMinute", TokenRequests.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}

/// <summary>
/// One network address cannot spray passwords across accounts or hammer the token endpoint. Each
/// test gets its own server, because the budget is per address and every in-process client shares one.
/// </summary>
public sealed class CredentialRateLimitTests
{
    [Fact]
    public async Task Sign_in_attempts_beyond_the_budget_get_429_even_with_the_right_password_and_the_form_stays_readable()
    {
        using var factory = new RateLimitedFactory();
        await factory.EnsureTestAppAsync();
        var victims = new List<string>();
        for (var i = 0; i < RateLimitedFactory.SignIns; i++)
        {
            victims.Add((await factory.CreateAccountAsync(AccountKind.Resident)).Account.Username);
        }
        var (_, challenge) = TestTokens.NewPkce();
        using var browser = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var signInUrl = (await browser.GetAsync(TestTokens.AuthorizeUrl(challenge, AccountKind.Resident.Scope(), "s"))).Headers.Location!.ToString();

        // A password spray: one wrong guess at each of several accounts, far below each account's lockout.
        foreach (var username in victims)
        {
            var guess = await browser.PostAsync(signInUrl, await TestTokens.SignInFormAsync(browser, signInUrl, username, "Winter2026!"));
            Assert.NotEqual(HttpStatusCode.TooManyRequests, guess.StatusCode);
        }

        var refused = await browser.PostAsync(signInUrl, await TestTokens.SignInFormAsync(browser, signInUrl, victims[0], TestTokens.TestPassword));
        var problem = await HostTests.AssertProblem(refused, HttpStatusCode.TooManyRequests);
        Assert.Equal("Too many attempts", problem.GetProperty("title").GetString());
        Assert.True(int.Parse(refused.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) is >= 1 and <= 60);
        // Reading the form is not a credential check.
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(signInUrl)).StatusCode);
    }

    [Fact]
    public async Task Token_requests_beyond_the_budget_get_429_before_the_secret_is_checked_and_forwarded_headers_do_not_reset_it()
    {
        using var factory = new RateLimitedFactory();
        var client = await factory.RegisterClientAsync(ClientKind.Business);
        using var http = factory.CreateClient();
        for (var i = 0; i < RateLimitedFactory.TokenRequests; i++)
        {
            using var wrong = Form(client.ClientId, "not-the-secret", $"203.0.113.{i}");
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong)).StatusCode);
        }

        // No proxy is trusted, so a spoofed X-Forwarded-For does not buy a fresh budget, and the right secret does not help.
        using var right = Form(client.ClientId, client.ClientSecret, "198.51.100.7");
        var refused = await http.SendAsync(right);
        await HostTests.AssertProblem(refused, HttpStatusCode.TooManyRequests);
        Assert.True(refused.Headers.Contains("Retry-After"));
    }

    [Fact]
    public async Task Introspection_and_revocation_spend_the_token_endpoints_budget_before_the_secret_is_checked()
    {
        using var factory = new RateLimitedFactory();
        var client = await factory.RegisterClientAsync(ClientKind.Business);
        var token = await factory.ClientCredentialsTokenAsync(client.ClientId, client.ClientSecret);
        using var http = factory.CreateClient();
        // One request already went to the token endpoint; the other three guess secrets elsewhere.
        foreach (var path in new[] { "/connect/introspect", "/connect/revoke", "/connect/introspect" })
        {
            using var wrong = Form(client.ClientId, "not-the-secret", "203.0.113.1", path, token);
            Assert.Equal("invalid_client", await TestTokens.OAuthErrorOf(await http.SendAsync(wrong)));
        }

        foreach (var path in new[] { "/connect/introspect", "/connect/revoke", "/connect/token" })
        {
            using var right = Form(client.ClientId, client.ClientSecret, "198.51.100.7", path, token);
            var refused = await http.SendAsync(right);
            await HostTests.AssertProblem(refused, HttpStatusCode.TooManyRequests);
            Assert.True(refused.Headers.Contains("Retry-After"));
        }
    }

    private static HttpRequestMessage Form(string clientId, string secret, string forwardedFor, string path = "/connect/token", string? token = null)
    {
        var form = new Dictionary<string, string> { ["client_id"] = clientId, ["client_secret"] = secret };
        if (token is null)
        {
            form["grant_type"] = "client_credentials";
        }
        else
        {
            form["token"] = token;
        }
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(form) };
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        return request;
    }

    [Theory]
    [InlineData("203.0.113.9", "203.0.113.9")]
    [InlineData("::ffff:203.0.113.9", "203.0.113.9")]
    [InlineData("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:3::1", "2001:db8:1:3::/64")]
    public void An_IPv6_client_cannot_take_a_fresh_budget_from_its_own_64(string address, string expected) =>
        Assert.Equal(expected, CredentialRateLimits.PartitionKey(IPAddress.Parse(address)));

    [Fact]
    public void Callers_without_an_address_share_one_budget() =>
        Assert.Equal("no-address", CredentialRateLimits.PartitionKey(null));
}
