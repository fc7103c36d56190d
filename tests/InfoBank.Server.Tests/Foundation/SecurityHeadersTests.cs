using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure;
using InfoBank.Server.Infrastructure.Web;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Routing;

namespace InfoBank.Server.Tests.Foundation;

public sealed partial class SecurityHeadersTests(SecurityHeadersTests.Factory factory) : IClassFixture<SecurityHeadersTests.Factory>
{
    public sealed class Factory : InfoBankFactory
    {
        protected override IEnumerable<IApiModule> ExtraModules => [new Failing()];
    }

    /// <summary>The same server in Development, where HSTS is not sent (a developer's browser would remember it for localhost).</summary>
    public sealed class DevelopmentFactory : InfoBankFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseEnvironment("Development");
        }
    }

    private sealed class Failing : IApiModule
    {
        public void MapEndpoints(IEndpointRouteBuilder routes) =>
            routes.MapGet("/test/headers/boom", string () => throw new InvalidOperationException("boom")).AllowAnonymous();
    }

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(", ", values)
        : response.Content.Headers.TryGetValues(name, out values) ? string.Join(", ", values)
        : throw new Xunit.Sdk.XunitException($"{(int)response.StatusCode} answer without {name}");

    private static void AssertCommonHeaders(HttpResponseMessage response)
    {
        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
        Assert.Equal("DENY", Header(response, "X-Frame-Options"));
        Assert.Equal("no-referrer", Header(response, "Referrer-Policy"));
        Assert.Equal("same-origin", Header(response, "Cross-Origin-Opener-Policy"));
        Assert.Equal(SecurityHeadersMiddleware.PermissionsPolicy, Header(response, "Permissions-Policy"));
        Assert.Contains("camera=()", Header(response, "Permissions-Policy"));
        Assert.Contains("frame-ancestors 'none'", Header(response, "Content-Security-Policy"));
    }

    public static TheoryData<string, string, int> ApiAnswers => new()
    {
        { "GET", "/api/v1/inventory", 200 },
        { "GET", "/openapi/v1.json", 200 },
        { "GET", "/health/ready", 200 },
        { "GET", "/api/v1/no-such-thing", 404 },
        { "DELETE", "/api/v1/inventory", 405 },
        { "GET", "/api/v1/me", 401 },
        { "GET", "/api/v1/me?access_token=x", 400 },
        { "GET", "/test/headers/boom", 500 },
        { "GET", "/.well-known/openid-configuration", 200 },
        { "POST", "/connect/token", 400 },
        { "GET", "/reference", 302 },
    };

    [Theory]
    [MemberData(nameof(ApiAnswers))]
    public async Task Every_api_answer_errors_included_carries_the_headers(string method, string path, int status)
    {
        using var http = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        var response = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        Assert.Equal(status, (int)response.StatusCode);
        AssertCommonHeaders(response);
        Assert.Equal(ContentSecurityPolicies.Api, Header(response, "Content-Security-Policy"));
    }

    [Fact]
    public async Task A_refused_token_is_answered_with_the_headers_too()
    {
        var (_, token) = await factory.ClientTokenAsync(ClientKind.Business);
        using var http = factory.CreateClientWithToken(token);
        var response = await http.GetAsync("/api/v1/me");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        AssertCommonHeaders(response);
        Assert.Equal("no-store", Header(response, "Cache-Control"));
    }

    [Fact]
    public async Task Answers_to_credentialed_requests_are_not_stored_unless_the_endpoint_chose_its_caching()
    {
        var (_, token) = await factory.SignInAsync(AccountKind.Resident);
        using var resident = factory.CreateClientWithToken(token);
        Assert.Equal("no-store", Header(await resident.GetAsync("/api/v1/me"), "Cache-Control"));
        Assert.Equal("no-store", Header(await resident.GetAsync("/api/v1/inventory"), "Cache-Control"));
        // The JWKS is public and says how long it may be cached; a token beside it changes nothing.
        Assert.Equal("public, max-age=300", Header(await resident.GetAsync("/api/v1/keys"), "Cache-Control"));

        using var cookie = factory.CreateClient();
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/inventory");
        request.Headers.Add("Cookie", "infobank.signin=whatever");
        Assert.Equal("no-store", Header(await cookie.SendAsync(request), "Cache-Control"));

        using var anonymous = factory.CreateClient();
        var open = await anonymous.GetAsync("/api/v1/inventory");
        Assert.False(open.Headers.CacheControl?.NoStore ?? false);
        Assert.Equal("public, max-age=300", Header(await anonymous.GetAsync("/api/v1/keys"), "Cache-Control"));
    }

    [Theory]
    [InlineData("/signin")]
    [InlineData("/signin?ReturnUrl=%2Fjobs")]
    [InlineData("/signin/callback?code=abc&state=xyz")]
    [InlineData("/signin/callback?error=access_denied&error_description=no")]
    public async Task Sign_in_pages_are_never_stored_and_allow_only_their_own_styles(string url)
    {
        using var http = factory.CreateClient();
        var response = await http.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        AssertCommonHeaders(response);
        Assert.Equal("no-store", Header(response, "Cache-Control"));
        var policy = Header(response, "Content-Security-Policy");
        Assert.Equal(ContentSecurityPolicies.Page, policy);
        AssertInlineContentAllowed(await response.Content.ReadAsStringAsync(), policy, url);
    }

    [Fact]
    public async Task The_jobs_dashboard_runs_under_the_page_policy()
    {
        var (_, token) = await factory.SignInAsync(AccountKind.Operator);
        using var http = factory.CreateClientWithToken(token);
        var response = await http.GetAsync("/jobs");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var policy = Header(response, "Content-Security-Policy");
        Assert.Equal(ContentSecurityPolicies.Page, policy);
        Assert.True(response.Headers.CacheControl?.NoStore, Header(response, "Cache-Control"));
        AssertInlineContentAllowed(await response.Content.ReadAsStringAsync(), policy, "/jobs");
    }

    [Theory]
    [InlineData("/reference/")]
    [InlineData("/reference/v1")]
    public async Task The_api_reference_runs_its_inline_script_by_nonce_and_loads_nothing_from_elsewhere(string url)
    {
        using var http = factory.CreateClient();
        var first = await http.GetAsync(url);
        var second = await http.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        AssertCommonHeaders(first);
        var policy = Header(first, "Content-Security-Policy");
        var nonce = Nonce().Match(policy);
        Assert.True(nonce.Success, policy);
        Assert.DoesNotContain(nonce.Groups[1].Value, Header(second, "Content-Security-Policy"));
        Assert.Equal(ContentSecurityPolicies.ApiReference(nonce.Groups[1].Value), policy);
        var scriptSources = policy.Split(';', StringSplitOptions.TrimEntries).Single(d => d.StartsWith("script-src ", StringComparison.Ordinal));
        Assert.DoesNotContain("'unsafe-inline'", scriptSources);
        Assert.Contains("connect-src 'self'", policy);

        var html = await first.Content.ReadAsStringAsync();
        AssertInlineContentAllowed(html, policy, url);
        // Scalar's own script and module come from this server, not a CDN.
        foreach (Match source in ScriptSource().Matches(html))
        {
            Assert.False(source.Groups[1].Value.Contains("//", StringComparison.Ordinal), $"{url} loads {source.Groups[1].Value}");
        }
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/reference/scalar.js")).StatusCode);
    }

    [Fact]
    public async Task Hsts_is_sent_over_https_outside_development()
    {
        using var https = factory.CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri("https://localhost") });
        Assert.Equal(SecurityHeadersMiddleware.StrictTransportSecurity, Header(await https.GetAsync("/api/v1/inventory"), "Strict-Transport-Security"));
        Assert.Equal(SecurityHeadersMiddleware.StrictTransportSecurity, Header(await https.GetAsync("/api/v1/no-such-thing"), "Strict-Transport-Security"));

        using var http = factory.CreateClient();
        Assert.False((await http.GetAsync("/api/v1/inventory")).Headers.Contains("Strict-Transport-Security"));

        using var development = new DevelopmentFactory();
        using var devHttps = development.CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri("https://localhost") });
        var devAnswer = await devHttps.GetAsync("/api/v1/inventory");
        Assert.Equal(HttpStatusCode.OK, devAnswer.StatusCode);
        Assert.False(devAnswer.Headers.Contains("Strict-Transport-Security"));
        AssertCommonHeaders(devAnswer);
    }

    /// <summary>
    /// Every inline script and style of the page is allowed by its policy (by hash or nonce), and
    /// nothing relies on inline style attributes or event handlers, which no hash can allow.
    /// </summary>
    private static void AssertInlineContentAllowed(string html, string policy, string page)
    {
        var directives = policy.Split(';', StringSplitOptions.TrimEntries).ToDictionary(d => d.Split(' ')[0], d => d);
        foreach (Match style in InlineStyle().Matches(html))
        {
            var hash = "'sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(style.Groups[1].Value))) + "'";
            Assert.True(directives["style-src"].Contains(hash, StringComparison.Ordinal) || directives["style-src"].Contains("'unsafe-inline'", StringComparison.Ordinal),
                $"{page} has an inline <style> whose hash {hash} is not in ContentSecurityPolicies.PageStyleHashes; add it there (or move the style to a stylesheet).");
        }
        foreach (Match script in InlineScript().Matches(html))
        {
            var nonce = NonceAttribute().Match(script.Groups[1].Value);
            Assert.True(nonce.Success && directives["script-src"].Contains($"'nonce-{nonce.Groups[1].Value}'", StringComparison.Ordinal),
                $"{page} has an inline <script> that its policy does not allow: {script.Value[..Math.Min(120, script.Value.Length)]}");
        }
        Assert.DoesNotMatch(InlineHandler(), html);
    }

    [GeneratedRegex("<style>(.*?)</style>", RegexOptions.Singleline)]
    private static partial Regex InlineStyle();

    // A <script> element with content (no src) is inline.
    [GeneratedRegex("<script(?![^>]*\\ssrc=)([^>]*)>(\\s*\\S.*?)</script>", RegexOptions.Singleline)]
    private static partial Regex InlineScript();

    [GeneratedRegex("<script[^>]*\\ssrc=\"([^\"]+)\"")]
    private static partial Regex ScriptSource();

    [GeneratedRegex("nonce=\"([^\"]+)\"")]
    private static partial Regex NonceAttribute();

    [GeneratedRegex("'nonce-([^']+)'")]
    private static partial Regex Nonce();

    [GeneratedRegex("\\s(style|on[a-z]+)=\"", RegexOptions.IgnoreCase)]
    private static partial Regex InlineHandler();
}
