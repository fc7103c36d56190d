using System.Net;
using System.Net.Http.Headers;
using InfoBank.Server.Features.Identity;
using Microsoft.AspNetCore.WebUtilities;

namespace InfoBank.Server.Tests.Infrastructure;

/// <summary>
/// The same server on real Kestrel, listening on a free loopback port: for what the in-process
/// test server does not model (it leaves the raw request target empty, and its client normalises
/// paths before they are sent). Clients must name the server's address, so this class has its
/// own versions of the <see cref="TestTokens"/> helpers that create clients.
/// </summary>
public class KestrelInfoBankFactory : InfoBankFactory
{
    public KestrelInfoBankFactory()
    {
        UseKestrel(0);
        StartServer();
    }

    public Uri BaseAddress => ClientOptions.BaseAddress;

    /// <summary>An absolute URI that is sent exactly as written: no dot-segment removal, no unescaping.</summary>
    public Uri RawUri(string pathAndQuery) =>
        new(BaseAddress.GetLeftPart(UriPartial.Authority) + pathAndQuery, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });

    public HttpClient Client(string? accessToken = null, bool cookies = false)
    {
        // A plain client: the factory's own would follow redirects in its socket handler. A request
        // sent with Expect: 100-continue waits for the server as long as the test allows: Kestrel
        // says "continue" only once something reads the body, so a final answer without it shows
        // the server answered without reading.
        var handler = new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = cookies, Expect100ContinueTimeout = TimeSpan.FromMinutes(1) };
        var client = new HttpClient(handler) { BaseAddress = BaseAddress };
        if (accessToken is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }
        return client;
    }

    /// <summary>Code + PKCE over real HTTP, as <see cref="TestTokens.SignInAsync"/> does in process.</summary>
    public async Task<(Guid AccountId, string AccessToken)> PersonTokenAsync(AccountKind kind)
    {
        var account = await this.CreateAccountAsync(kind);
        await this.EnsureTestAppAsync();
        var (verifier, challenge) = TestTokens.NewPkce();
        using var browser = Client(cookies: true);
        var toSignIn = await browser.GetAsync(TestTokens.AuthorizeUrl(challenge, kind.Scope(), "state"));
        var signInUrl = toSignIn.Headers.Location!.ToString();
        var back = await browser.PostAsync(signInUrl, await TestTokens.SignInFormAsync(browser, signInUrl, account.Account.Username, TestTokens.TestPassword));
        var toCallback = await browser.GetAsync(back.Headers.Location);
        Assert.Equal(HttpStatusCode.Redirect, toCallback.StatusCode);
        var code = QueryHelpers.ParseQuery(toCallback.Headers.Location!.Query)["code"].ToString();
        var tokens = await TestTokens.PersonTokensOf(await browser.PostAsync("/connect/token", new FormUrlEncodedContent(TestTokens.CodeExchange(code, verifier))));
        return (account.Account.Id, tokens.AccessToken);
    }

    /// <summary>Client credentials over real HTTP.</summary>
    public async Task<(string ClientId, string AccessToken)> MachineTokenAsync(ClientKind kind)
    {
        var client = await this.RegisterClientAsync(kind);
        using var http = Client();
        var response = await http.PostAsync("/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = client.ClientId,
            ["client_secret"] = client.ClientSecret,
        }));
        return (client.ClientId, (await TestTokens.PersonTokensOf(response)).AccessToken);
    }
}
