using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Web;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.TestHost;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>
/// Dot segments and tokens outside the Authorization header, in process. The test server's client
/// normalises a path before sending it and the server leaves the raw target empty, so the dot-segment
/// cases are sent as the contexts Kestrel would build (raw target as written, path normalised);
/// <see cref="KestrelHttpTests"/> sends them over a socket.
/// </summary>
public sealed class RequestTargetTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    [Theory]
    [InlineData("/api/v1/me/consents/%2e%2e")]
    [InlineData("/api/v1/me/consents/%2E%2E")]
    [InlineData("/api/v1/me/consents/.%2e")]
    [InlineData("/api/v1/me/sources/%2E%2E/")]
    [InlineData("/api/v1/records/%2e%2e")]
    [InlineData("/api/v1/me/./consents")]
    [InlineData("/api/v1/me/x/../")]
    [InlineData("/api/v1/me/%2e")]
    [InlineData("/./api/v1/me")]
    [InlineData("/api/v1/me/..?x=1")]
    [InlineData("http://localhost/api/v1/me/x/%2e%2e")]
    public void Dot_segments_are_found_in_any_spelling(string target) =>
        Assert.True(RequestTargetGuardMiddleware.HasDotSegment(target));

    [Theory]
    [InlineData("/api/v1/me")]
    [InlineData("/api/v1/me/")]
    [InlineData("/api/v1/me/consents/...")]
    [InlineData("/api/v1/me/consents/.well")]
    [InlineData("/api/v1/me/consents/a.b")]
    [InlineData("/api/v1/me/consents/%2e%2e%2e")]
    [InlineData("/api/v1/me/consents/%252e%252e")]
    [InlineData("/api/v1/me/consents/..%2F")]
    [InlineData("/api/v1/me?next=/../x")]
    [InlineData("/.well-known/openid-configuration")]
    [InlineData("*")]
    [InlineData("http://localhost")]
    public void Ordinary_targets_pass(string target) =>
        Assert.False(RequestTargetGuardMiddleware.HasDotSegment(target));

    private async Task<HttpContext> SendRawAsync(string method, string rawTarget, string normalisedPath, string? token)
    {
        var context = await factory.Server.SendAsync(c =>
        {
            c.Request.Method = method;
            c.Request.Path = normalisedPath;
            c.Features.Get<IHttpRequestFeature>()!.RawTarget = rawTarget;
            if (token is not null)
            {
                c.Request.Headers.Authorization = "Bearer " + token;
            }
        });
        return context;
    }

    private static async Task<JsonElement> ProblemOf(HttpContext context)
    {
        Assert.Equal("application/problem+json", context.Response.ContentType?.Split(';')[0]);
        return await JsonSerializer.DeserializeAsync<JsonElement>(context.Response.Body);
    }

    [Theory]
    [InlineData("DELETE", "/api/v1/me/consents/%2e%2e", "/api/v1/me")]
    [InlineData("DELETE", "/api/v1/me/sources/%2E%2E/", "/api/v1/me/")]
    [InlineData("DELETE", "/api/v1/me/./", "/api/v1/me/")]
    [InlineData("DELETE", "/api/v1/me/x/../", "/api/v1/me/")]
    [InlineData("DELETE", "/api/v1/records/%2e%2e/me", "/api/v1/me")]
    public async Task A_dot_segment_never_reaches_the_route_it_normalises_to(string method, string rawTarget, string normalisedPath)
    {
        var (_, token) = await factory.SignInAsync(AccountKind.Resident);
        using var resident = factory.CreateClientWithToken(token);
        await HardeningKit.EnrolAsync(resident);

        var context = await SendRawAsync(method, rawTarget, normalisedPath, token);

        Assert.Equal(StatusCodes.Status400BadRequest, context.Response.StatusCode);
        Assert.Equal("/problems/dot-segment", (await ProblemOf(context)).GetProperty("type").GetString());
        // The normalised route (the erasure) did not run.
        Assert.Equal("enrolled", await HardeningKit.EnrollmentStatusAsync(resident));
    }

    [Fact]
    public async Task Without_a_raw_target_the_path_itself_is_checked()
    {
        // Servers that do not normalise (or leave the raw target empty, as this one does) pass the
        // dot segment on in the path.
        var context = await SendRawAsync("GET", "", "/api/v1/offers/../me", null);
        Assert.Equal(StatusCodes.Status400BadRequest, context.Response.StatusCode);
        Assert.Equal("/problems/dot-segment", (await ProblemOf(context)).GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("/api/v1/inventory?access_token=abc")]
    [InlineData("/api/v1/me?access_token=abc")]
    [InlineData("/api/v1/me?Access_Token=abc")]
    [InlineData("/api/v1/me?x=1&access%5Ftoken=abc")]
    [InlineData("/connect/authorize?client_id=infobank-tests&access_token=abc")]
    [InlineData("/signin/callback?code=x&access_token=abc")]
    [InlineData("/no/such/route?access_token=abc")]
    public async Task An_access_token_in_the_query_is_refused_on_every_route(string url)
    {
        using var http = factory.CreateClient();
        await HardeningKit.AssertProblemType(await http.GetAsync(url), HttpStatusCode.BadRequest, "token-in-url");
    }

    [Fact]
    public async Task A_valid_token_in_the_query_is_refused_even_beside_a_valid_header()
    {
        var (_, token) = await factory.SignInAsync(AccountKind.Resident);
        using var anonymous = factory.CreateClient();
        await HardeningKit.AssertProblemType(await anonymous.GetAsync("/api/v1/me?access_token=" + token), HttpStatusCode.BadRequest, "token-in-url");
        using var bearer = factory.CreateClientWithToken(token);
        await HardeningKit.AssertProblemType(await bearer.GetAsync("/api/v1/me?access_token=" + token), HttpStatusCode.BadRequest, "token-in-url");
        Assert.Equal(HttpStatusCode.OK, (await bearer.GetAsync("/api/v1/me")).StatusCode);
    }

    private static FormUrlEncodedContent Form(params (string Key, string Value)[] fields) =>
        new(fields.Select(f => KeyValuePair.Create(f.Key, f.Value)));

    [Fact]
    public async Task An_access_token_in_a_form_body_is_refused()
    {
        var (_, token) = await factory.ClientTokenAsync(ClientKind.DataSource);
        using var source = factory.CreateClientWithToken(token);
        await HardeningKit.AssertProblemType(await source.PostAsync("/api/v1/records", Form(("access_token", token))), HttpStatusCode.BadRequest, "token-in-url");

        // Anonymous routes read their forms before authentication: the token endpoint refuses it too.
        using var anonymous = factory.CreateClient();
        await HardeningKit.AssertProblemType(
            await anonymous.PostAsync("/connect/token", Form(("grant_type", "client_credentials"), ("client_id", "x"), ("access_token", token))),
            HttpStatusCode.BadRequest, "token-in-url");
        await HardeningKit.AssertProblemType(
            await anonymous.PostAsync("/connect/introspect", Form(("token", "x"), ("access_token", token))),
            HttpStatusCode.BadRequest, "token-in-url");
    }

    [Fact]
    public async Task An_anonymous_form_with_a_token_on_a_protected_route_is_a_401_without_reading_it()
    {
        // Reading a body is only done for callers allowed to send it: without a header this is the 401.
        using var anonymous = factory.CreateClient();
        var response = await anonymous.PostAsync("/api/v1/records", Form(("access_token", "abc")));
        await HardeningKit.AssertProblemType(response, HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task The_oauth_endpoints_keep_their_own_token_parameters()
    {
        // Revocation and introspection take "token", the token endpoint "code" and "refresh_token":
        // none of them is the access_token this host refuses.
        var client = await factory.RegisterClientAsync(ClientKind.Business);
        var token = await factory.ClientCredentialsTokenAsync(client.ClientId, client.ClientSecret);
        using var anonymous = factory.CreateClient();
        var introspection = await anonymous.PostAsync("/connect/introspect",
            Form(("token", token), ("client_id", client.ClientId), ("client_secret", client.ClientSecret)));
        Assert.Equal(HttpStatusCode.OK, introspection.StatusCode);
        Assert.True((await introspection.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("active").GetBoolean());

        var revocation = await anonymous.PostAsync("/connect/revoke",
            Form(("token", token), ("client_id", client.ClientId), ("client_secret", client.ClientSecret)));
        Assert.Equal(HttpStatusCode.OK, revocation.StatusCode);

        var refused = await anonymous.PostAsync("/connect/token", Form(("grant_type", "refresh_token"), ("client_id", TestTokens.TestAppClientId), ("refresh_token", "not-a-token")));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("invalid_grant", await TestTokens.OAuthErrorOf(refused));
    }

    [Fact]
    public async Task A_malformed_form_is_a_400_problem()
    {
        using var anonymous = factory.CreateClient();
        var content = new StringContent("--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb", Encoding.UTF8);
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("multipart/form-data; boundary=x");
        await HardeningKit.AssertProblemType(await anonymous.PostAsync("/connect/token", content), HttpStatusCode.BadRequest, "malformed-request");
    }
}
