using System.Net;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Identity;

/// <summary>Expiry and lockout, on a server whose clock the test moves forward.</summary>
public sealed class IdentityExpiryTests : IClassFixture<IdentityExpiryTests.Factory>
{
    public sealed class Factory : ClockedInfoBankFactory;

    private readonly Factory _factory;

    public IdentityExpiryTests(Factory factory)
    {
        _factory = factory;
        _factory.Time.Offset = TimeSpan.Zero;
    }

    [Fact]
    public async Task Expired_access_token_is_refused()
    {
        var (_, token) = await _factory.SignInAsync(AccountKind.Operator);
        using var http = _factory.CreateClientWithToken(token);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/v1/admin/accounts")).StatusCode);

        _factory.Time.Offset = TimeSpan.FromMinutes(16);
        var response = await http.GetAsync("/api/v1/admin/accounts");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Expired_machine_token_is_refused_after_ten_minutes()
    {
        var (_, token) = await _factory.ClientTokenAsync(ClientKind.Business);
        using var http = _factory.CreateClientWithToken(token);
        _factory.Time.Offset = TimeSpan.FromMinutes(9);
        Assert.NotEqual(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/v1/admin/accounts")).StatusCode);
        _factory.Time.Offset = TimeSpan.FromMinutes(11);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/v1/admin/accounts")).StatusCode);
    }

    [Fact]
    public async Task Expired_code_is_invalid_grant()
    {
        var account = await _factory.CreateAccountAsync(AccountKind.Resident);
        var (verifier, challenge) = TestTokens.NewPkce();
        var code = await _factory.GetAuthorizationCodeAsync(account.Account.Username, TestTokens.TestPassword, "resident", challenge);

        _factory.Time.Offset = TimeSpan.FromMinutes(3);
        var response = await _factory.RequestTokenAsync(TestTokens.CodeExchange(code, verifier));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid_grant", await TestTokens.OAuthErrorOf(response));
    }

    [Fact]
    public async Task Expired_refresh_token_is_invalid_grant()
    {
        var account = await _factory.CreateAccountAsync(AccountKind.Resident);
        var tokens = await _factory.RunCodeFlowAsync(account.Account.Username, TestTokens.TestPassword, "resident");

        _factory.Time.Offset = TimeSpan.FromHours(9);
        var response = await _factory.RequestTokenAsync(TestTokens.Refresh(tokens.RefreshToken!));
        Assert.Equal("invalid_grant", await TestTokens.OAuthErrorOf(response));
    }

    [Fact]
    public async Task Repeated_failures_lock_the_account_for_a_while_then_it_signs_in_again()
    {
        var account = await _factory.CreateAccountAsync(AccountKind.Resident);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await PostSignIn(account.Account.Username, "wrong password " + i));
        }
        // Locked: even the right password is refused, with the same answer as a wrong one.
        Assert.Equal(HttpStatusCode.Unauthorized, await PostSignIn(account.Account.Username, TestTokens.TestPassword));

        _factory.Time.Offset = TimeSpan.FromMinutes(16);
        Assert.Equal(HttpStatusCode.OK, await PostSignIn(account.Account.Username, TestTokens.TestPassword));
    }

    [Fact]
    public async Task A_locked_account_gets_no_new_tokens_by_refresh()
    {
        var account = await _factory.CreateAccountAsync(AccountKind.Resident);
        var tokens = await _factory.RunCodeFlowAsync(account.Account.Username, TestTokens.TestPassword, "resident");
        for (var i = 0; i < 5; i++)
        {
            await PostSignIn(account.Account.Username, "wrong password " + i);
        }
        var response = await _factory.RequestTokenAsync(TestTokens.Refresh(tokens.RefreshToken!));
        Assert.Equal("invalid_grant", await TestTokens.OAuthErrorOf(response));
    }

    [Fact]
    public async Task Failures_below_the_limit_are_forgiven_by_a_success()
    {
        var account = await _factory.CreateAccountAsync(AccountKind.Resident);
        for (var i = 0; i < 4; i++)
        {
            await PostSignIn(account.Account.Username, "wrong password " + i);
        }
        Assert.Equal(HttpStatusCode.OK, await PostSignIn(account.Account.Username, TestTokens.TestPassword));
        for (var i = 0; i < 4; i++)
        {
            await PostSignIn(account.Account.Username, "wrong password " + i);
        }
        Assert.Equal(HttpStatusCode.OK, await PostSignIn(account.Account.Username, TestTokens.TestPassword));
    }

    private async Task<HttpStatusCode> PostSignIn(string username, string password)
    {
        using var browser = _factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var response = await browser.PostAsync("/signin", await TestTokens.SignInFormAsync(browser, "/signin", username, password));
        return response.StatusCode;
    }
}
