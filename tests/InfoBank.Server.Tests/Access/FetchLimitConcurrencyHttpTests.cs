using System.Net;
using InfoBank.Server.Tests.Infrastructure;
using static InfoBank.Server.Tests.Access.AccessScenario;

namespace InfoBank.Server.Tests.Access;

/// <summary>
/// Fetches that start at the same moment are decided one after another under the grant's lock: a
/// correctness test (who gets through), not a timing one.
/// </summary>
public sealed class FetchLimitConcurrencyHttpTests(FetchLimitConcurrencyHttpTests.Factory factory) : IClassFixture<FetchLimitConcurrencyHttpTests.Factory>
{
    public sealed class Factory : InfoBankFactory;

    [Fact]
    public async Task Concurrent_first_pages_on_a_monthly_grant_let_exactly_one_fetch_through()
    {
        var scenario = new AccessScenario(factory);
        var (grantId, _, business) = await scenario.ApprovedGrantAsync();
        const int attempts = 12;

        using var start = new SemaphoreSlim(0);
        var requests = Enumerable.Range(0, attempts).Select(async _ =>
        {
            await start.WaitAsync();
            return await business.GetAsync($"/api/v1/grants/{grantId}/records");
        }).ToList();
        start.Release(attempts);
        var responses = await Task.WhenAll(requests);

        var statuses = responses.Select(r => r.StatusCode).ToList();
        Assert.True(statuses.All(s => s is HttpStatusCode.OK or HttpStatusCode.TooManyRequests), string.Join(", ", statuses));
        Assert.Single(statuses, HttpStatusCode.OK);
        foreach (var refused in responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests))
        {
            Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.FromDays(29));
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        }
        // And the next one, after all of them, is refused too.
        await JsonOf(await business.GetAsync($"/api/v1/grants/{grantId}/records"), HttpStatusCode.TooManyRequests);
    }
}
