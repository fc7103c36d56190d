using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;

namespace InfoBank.Server.Tests.Identity;

/// <summary>
/// Outside Development and the tests, the issuer must not come from the Host header: the server
/// refuses to start unless Identity:Issuer is set or AllowedHosts names the hosts.
/// </summary>
public sealed class IssuerStartupTests
{
    private sealed class ProductionFactory(params (string Key, string Value)[] settings) : InfoBankFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseEnvironment("Production");
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
        }
    }

    [Fact]
    public void Production_without_an_issuer_and_with_any_host_allowed_does_not_start_and_says_what_to_set()
    {
        using var factory = new ProductionFactory();
        var error = Assert.ThrowsAny<Exception>(() => factory.CreateClient());
        var message = error.ToString();
        Assert.Contains("Identity:Issuer", message);
        Assert.Contains("AllowedHosts", message);
    }

    [Fact]
    public void A_relative_issuer_does_not_start_either()
    {
        using var factory = new ProductionFactory(("Identity:Issuer", "infobank"));
        Assert.Contains("absolute URL", Assert.ThrowsAny<Exception>(() => factory.CreateClient()).ToString());
    }

    [Fact]
    public async Task With_the_issuer_set_discovery_names_it_whatever_the_Host_header_says()
    {
        using var factory = new ProductionFactory(("Identity:Issuer", "https://infobank.example.jp/"));
        using var http = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/.well-known/openid-configuration");
        request.Headers.Host = "evil.example";
        var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var doc = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("https://infobank.example.jp/", doc.GetProperty("issuer").GetString());
        // OpenIddict builds the endpoint URLs on the request's host unless told otherwise.
        foreach (var endpoint in new[] { "authorization_endpoint", "token_endpoint", "introspection_endpoint", "revocation_endpoint", "userinfo_endpoint", "end_session_endpoint", "jwks_uri" })
        {
            Assert.StartsWith("https://infobank.example.jp/", doc.GetProperty(endpoint).GetString());
        }
        Assert.Equal("https://infobank.example.jp/connect/token", doc.GetProperty("token_endpoint").GetString());
    }

    [Fact]
    public async Task With_allowed_hosts_listed_it_starts_and_other_hosts_are_refused()
    {
        using var factory = new ProductionFactory(("AllowedHosts", "localhost;infobank.example.jp"));
        using var http = factory.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/.well-known/openid-configuration")).StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/.well-known/openid-configuration");
        request.Headers.Host = "evil.example";
        Assert.Equal(HttpStatusCode.BadRequest, (await http.SendAsync(request)).StatusCode);
    }
}
