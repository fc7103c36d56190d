using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>
/// <c>/jobs/stats</c>: Hangfire reads a form there on any method, so a GET was a 500. Callers who
/// may not see the dashboard are refused before it; operators get the counts.
/// </summary>
public sealed partial class JobsStatsTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    [Fact]
    public async Task Callers_who_may_not_see_the_dashboard_get_a_4xx()
    {
        using var anonymous = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        await HardeningKit.AssertProblemType(await anonymous.GetAsync("/jobs/stats"), HttpStatusCode.Unauthorized, "unauthenticated");
        await HardeningKit.AssertProblemType(await anonymous.PostAsync("/jobs/stats", new StringContent("{}", Encoding.UTF8, "application/json")), HttpStatusCode.Unauthorized, "unauthenticated");

        // A browser is sent to sign in instead.
        var browser = new HttpRequestMessage(HttpMethod.Get, "/jobs/stats");
        browser.Headers.Accept.ParseAdd("text/html");
        var redirect = await anonymous.SendAsync(browser);
        Assert.Equal(HttpStatusCode.Redirect, redirect.StatusCode);
        Assert.Contains("/signin", redirect.Headers.Location!.ToString());

        using var resident = factory.CreateClientWithToken((await factory.SignInAsync(AccountKind.Resident)).AccessToken);
        await HardeningKit.AssertProblemType(await resident.GetAsync("/jobs/stats"), HttpStatusCode.Forbidden, "forbidden");
        using var business = factory.CreateClientWithToken((await factory.ClientTokenAsync(ClientKind.Business)).AccessToken);
        await HardeningKit.AssertProblemType(await business.GetAsync("/jobs/stats"), HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task An_operator_gets_the_job_counts()
    {
        using var operatorClient = factory.CreateClientWithToken((await factory.SignInAsync(AccountKind.Operator)).AccessToken);
        var response = await operatorClient.GetAsync("/jobs/stats");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var stats = await response.Content.ReadFromJsonAsync<JsonElement>();
        foreach (var name in new[] { "enqueued", "scheduled", "processing", "succeeded", "failed", "deleted", "recurring", "servers", "queues" })
        {
            Assert.True(stats.GetProperty(name).GetInt64() >= 0, name);
        }
        // The features' recurring jobs are registered at start-up.
        Assert.True(stats.GetProperty("recurring").GetInt64() > 0);
        Assert.Equal(HttpStatusCode.OK, (await operatorClient.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/jobs/stats"))).StatusCode);
    }

    [Fact]
    public async Task Other_shapes_of_request_are_4xx_problems_for_an_operator_too()
    {
        using var operatorClient = factory.CreateClientWithToken((await factory.SignInAsync(AccountKind.Operator)).AccessToken);
        var put = await operatorClient.PutAsync("/jobs/stats", new StringContent("x"));
        await HardeningKit.AssertProblemType(put, HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        Assert.Equal(["GET", "HEAD", "POST"], put.Content.Headers.Allow.Order());
        await HardeningKit.AssertProblemType(
            await operatorClient.PostAsync("/jobs/stats", new StringContent("{\"metrics\":[]}", Encoding.UTF8, "application/json")), HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        await HardeningKit.AssertProblemType(
            await operatorClient.PostAsync("/jobs/jobs/failed/requeue", new StringContent("{}", Encoding.UTF8, "application/json")), HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        // A form without the dashboard's anti-forgery token is Hangfire's own 403.
        var form = await operatorClient.PostAsync("/jobs/stats", new FormUrlEncodedContent([KeyValuePair.Create("metrics[]", "recurring:count")]));
        Assert.Equal(HttpStatusCode.Forbidden, form.StatusCode);
    }

    [Fact]
    public async Task The_dashboard_s_own_polling_still_works_from_a_signed_in_browser()
    {
        var account = await factory.CreateAccountAsync(AccountKind.Operator);
        using var browser = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var signIn = "/signin?ReturnUrl=%2Fjobs";
        Assert.Equal(HttpStatusCode.Redirect, (await browser.PostAsync(signIn, await TestTokens.SignInFormAsync(browser, signIn, account.Account.Username, TestTokens.TestPassword))).StatusCode);

        var page = await browser.GetStringAsync("/jobs");
        var token = CsrfToken().Match(page);
        Assert.True(token.Success, "the dashboard page carries no anti-forgery token");
        var poll = new HttpRequestMessage(HttpMethod.Post, "/jobs/stats")
        {
            Content = new FormUrlEncodedContent([KeyValuePair.Create("metrics[]", "recurring:count"), KeyValuePair.Create("metrics[]", "servers:count")]),
        };
        poll.Headers.Add("RequestVerificationToken", WebUtility.HtmlDecode(token.Groups[1].Value));
        var response = await browser.SendAsync(poll);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var metrics = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(metrics.TryGetProperty("recurring:count", out _), metrics.GetRawText());
    }

    [GeneratedRegex("<meta name=\"csrf-token\" content=\"([^\"]+)\"")]
    private static partial Regex CsrfToken();
}
