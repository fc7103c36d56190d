using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>
/// What only a real server shows: Kestrel percent-decodes the path and removes dot segments
/// before routing, and keeps the target as sent in <c>IHttpRequestFeature.RawTarget</c>; bodies
/// arrive over a socket, so "answered without reading the body" is observable.
/// </summary>
public sealed class KestrelHttpTests(KestrelHttpTests.Factory factory) : IClassFixture<KestrelHttpTests.Factory>
{
    public const int MaxDepositBytes = 64 * 1024;

    public sealed class Factory : KestrelInfoBankFactory
    {
        protected override IEnumerable<IApiModule> ExtraModules => [new TargetProbe()];

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Custody:MaxBatchBytes", MaxDepositBytes.ToString());
        }
    }

    private sealed class TargetProbe : IApiModule
    {
        public void MapEndpoints(IEndpointRouteBuilder routes) =>
            routes.MapGet("/test/target/{**rest}", (HttpContext context) => TypedResults.Ok(new
            {
                raw = context.Features.Get<IHttpRequestFeature>()!.RawTarget,
                path = context.Request.Path.Value,
            })).AllowAnonymous();
    }

    [Fact]
    public async Task Kestrel_keeps_the_target_as_sent_in_RawTarget_and_decodes_the_path()
    {
        using var http = factory.Client();
        var seen = await http.GetFromJsonAsync<JsonElement>(factory.RawUri("/test/target/a%20b/%7Ec?q=%2e"));
        Assert.Equal("/test/target/a%20b/%7Ec?q=%2e", seen.GetProperty("raw").GetString());
        Assert.Equal("/test/target/a b/~c", seen.GetProperty("path").GetString());
    }

    [Theory]
    [InlineData("/api/v1/me/consents/%2e%2e")]
    [InlineData("/api/v1/me/consents/%2E%2E")]
    [InlineData("/api/v1/me/sources/%2E%2E/")]
    [InlineData("/api/v1/records/%2e%2e/me")]
    [InlineData("/api/v1/me/./")]
    [InlineData("/api/v1/me/consents/../")]
    [InlineData("/api/v1/me/consents/x/../..")]
    public async Task A_dot_segment_does_not_erase_the_resident(string target)
    {
        var (_, token) = await factory.PersonTokenAsync(AccountKind.Resident);
        using var resident = factory.Client(token);
        await HardeningKit.EnrolAsync(resident);

        var response = await resident.DeleteAsync(factory.RawUri(target));

        await HardeningKit.AssertProblemType(response, HttpStatusCode.BadRequest, "dot-segment");
        Assert.Equal("enrolled", await HardeningKit.EnrollmentStatusAsync(resident));
    }

    [Theory]
    [InlineData("application/json")]
    // A form body too: token validation reads tokens only from the Authorization header, never a form.
    [InlineData("application/x-www-form-urlencoded")]
    public async Task An_anonymous_caller_gets_its_401_without_the_server_reading_the_body(string contentType)
    {
        using var anonymous = factory.Client();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var response = await anonymous.SendAsync(EndlessPost("/api/v1/records", contentType), timeout.Token);
        await HardeningKit.AssertProblemType(response, HttpStatusCode.Unauthorized, "unauthenticated");
    }

    [Fact]
    public async Task An_authorized_caller_s_body_is_read_which_is_what_makes_the_previous_test_meaningful()
    {
        var (_, token) = await factory.MachineTokenAsync(ClientKind.DataSource);
        using var source = factory.Client(token);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => source.SendAsync(EndlessPost("/api/v1/records"), timeout.Token));
    }

    [Fact]
    public async Task Oversize_bodies_are_413_declared_or_chunked()
    {
        var (_, token) = await factory.MachineTokenAsync(ClientKind.DataSource);
        using var source = factory.Client(token);
        var body = "{\"records\":[\"" + new string('x', MaxDepositBytes) + "\"]}";

        var declared = new HttpRequestMessage(HttpMethod.Post, "/api/v1/records") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        declared.Headers.ExpectContinue = true;
        var problem = await HardeningKit.AssertProblemType(await source.SendAsync(declared), HttpStatusCode.RequestEntityTooLarge, "body-too-large");
        Assert.Contains($"{MaxDepositBytes} bytes", problem.GetProperty("detail").GetString());

        var chunked = new HttpRequestMessage(HttpMethod.Post, "/api/v1/records") { Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body))) };
        chunked.Content.Headers.ContentType = new("application/json");
        chunked.Headers.TransferEncodingChunked = true;
        chunked.Headers.ExpectContinue = true;
        await HardeningKit.AssertProblemType(await source.SendAsync(chunked), HttpStatusCode.RequestEntityTooLarge, "body-too-large");

        // The anonymous token endpoint keeps the default limit (1 MiB) for its forms.
        using var anonymous = factory.Client();
        var form = new HttpRequestMessage(HttpMethod.Post, "/connect/token")
        {
            Content = new StreamContent(new MemoryStream(Encoding.ASCII.GetBytes("grant_type=client_credentials&x=" + new string('x', 2 * 1024 * 1024)))),
        };
        form.Content.Headers.ContentType = new("application/x-www-form-urlencoded");
        form.Headers.TransferEncodingChunked = true;
        form.Headers.ExpectContinue = true;
        await HardeningKit.AssertProblemType(await anonymous.SendAsync(form), HttpStatusCode.RequestEntityTooLarge, "body-too-large");
    }

    private static HttpRequestMessage EndlessPost(string path, string contentType = "application/json")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StreamContent(new EndlessStream()) };
        request.Content.Headers.ContentType = new(contentType);
        request.Headers.TransferEncodingChunked = true;
        request.Headers.ExpectContinue = true;
        return request;
    }
}

/// <summary>The credential rate limits come before any body is read: a flood of token requests costs the server no form parsing.</summary>
public sealed class KestrelRateLimitOrderTests
{
    public sealed class Factory : KestrelInfoBankFactory
    {
        public const int TokenRequests = 2;

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("Identity:RateLimits:TokenRequestsPerMinute", TokenRequests.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public async Task A_token_request_over_the_budget_is_refused_without_reading_its_form()
    {
        using var factory = new Factory();
        using var anonymous = factory.Client();
        for (var i = 0; i < Factory.TokenRequests; i++)
        {
            var spent = await anonymous.PostAsync("/connect/token", new FormUrlEncodedContent([KeyValuePair.Create("grant_type", "client_credentials")]));
            Assert.NotEqual(HttpStatusCode.TooManyRequests, spent.StatusCode);
        }

        var request = new HttpRequestMessage(HttpMethod.Post, "/connect/token") { Content = new StreamContent(new EndlessStream()) };
        request.Content.Headers.ContentType = new("application/x-www-form-urlencoded");
        request.Headers.TransferEncodingChunked = true;
        request.Headers.ExpectContinue = true;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var response = await anonymous.SendAsync(request, timeout.Token);
        await HardeningKit.AssertProblemType(response, HttpStatusCode.TooManyRequests, "rate-limited");
    }
}
