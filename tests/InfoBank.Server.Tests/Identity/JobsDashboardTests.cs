using System.Net;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;

namespace InfoBank.Server.Tests.Identity;

/// <summary>The dashboard from a browser: the operator signs in on the sign-in page and is sent back.</summary>
public sealed class JobsDashboardTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    private HttpClient Browser()
    {
        var browser = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        browser.DefaultRequestHeaders.Accept.ParseAdd("text/html");
        return browser;
    }

    [Fact]
    public async Task Browser_is_sent_to_sign_in_and_an_operator_comes_back_to_the_dashboard()
    {
        var account = await factory.CreateAccountAsync(AccountKind.Operator);
        using var browser = Browser();

        var challenge = await browser.GetAsync("/jobs");
        Assert.Equal(HttpStatusCode.Redirect, challenge.StatusCode);
        var signIn = challenge.Headers.Location!.ToString();
        Assert.Contains("/signin?ReturnUrl=%2Fjobs", signIn);

        var back = await browser.PostAsync(signIn, await TestTokens.SignInFormAsync(browser, signIn, account.Account.Username, TestTokens.TestPassword));
        Assert.Equal(HttpStatusCode.Redirect, back.StatusCode);
        Assert.Equal("/jobs", back.Headers.Location!.ToString());

        var dashboard = await browser.GetAsync("/jobs");
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        Assert.Contains("InfoBank jobs", await dashboard.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_signed_in_resident_is_refused_the_dashboard()
    {
        var account = await factory.CreateAccountAsync(AccountKind.Resident);
        using var browser = Browser();
        var back = await browser.PostAsync("/signin?ReturnUrl=%2Fjobs", await TestTokens.SignInFormAsync(browser, "/signin?ReturnUrl=%2Fjobs", account.Account.Username, TestTokens.TestPassword));
        Assert.Equal(HttpStatusCode.Redirect, back.StatusCode);

        var dashboard = await browser.GetAsync("/jobs");
        Assert.Equal(HttpStatusCode.Forbidden, dashboard.StatusCode);
    }

    [Fact]
    public async Task The_sign_in_cookie_is_not_accepted_on_api_routes()
    {
        var account = await factory.CreateAccountAsync(AccountKind.Operator);
        using var browser = Browser();
        await browser.PostAsync("/signin", await TestTokens.SignInFormAsync(browser, "/signin", account.Account.Username, TestTokens.TestPassword));

        // A cookie is sent by the browser on its own, so API routes take bearer tokens only (no CSRF).
        var api = await browser.GetAsync("/api/v1/admin/accounts");
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
    }

    [Fact]
    public async Task Sign_in_does_not_redirect_off_site()
    {
        var account = await factory.CreateAccountAsync(AccountKind.Resident);
        using var browser = Browser();
        var url = "/signin?ReturnUrl=https%3A%2F%2Fevil.example%2F";
        var response = await browser.PostAsync(url, await TestTokens.SignInFormAsync(browser, url, account.Account.Username, TestTokens.TestPassword));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(response.Headers.Location);
    }
}
