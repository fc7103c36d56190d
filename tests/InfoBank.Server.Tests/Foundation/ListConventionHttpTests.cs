using System.Collections;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InfoBank.Core.Access;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Access;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Infrastructure.Web;
using InfoBank.Server.Tests.Access;
using InfoBank.Server.Tests.Applications;
using InfoBank.Server.Tests.Infrastructure;
using InfoBank.TestSupport;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using static InfoBank.Server.Tests.Access.AccessScenario;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>
/// The list convention (<see cref="Paging"/>) on every list the API maps: each GET endpoint whose
/// answer is a <see cref="Page{T}"/> is walked over HTTP with a small limit, following the Link
/// header (which must equal <c>next</c>), and must serve every item exactly once over two pages or
/// more; limit 0, limit 201 and a cursor it never gave out are 400 <c>/problems/invalid-parameter</c>.
/// The endpoints come from the endpoint data source, so a new list without a walk here fails, and
/// so does a GET endpoint answering a bare array.
/// </summary>
public sealed class ListConventionHttpTests(ListConventionHttpTests.Factory factory) : IClassFixture<ListConventionHttpTests.Factory>
{
    private const int Limit = 2;

    /// <summary>One list to walk: who asks, the URL (with its filters), each item's identity, and the items that must be among those served.</summary>
    /// <param name="Exact">The list holds only <paramref name="Expected"/> (the caller's own items, or a filter that selects just them).</param>
    public sealed record ListCase(HttpClient Http, string Url, Func<JsonElement, string> Id, IReadOnlyCollection<string> Expected, bool Exact);

    /// <summary>The server, with a few items in every list, built once for all the walks.</summary>
    public sealed class Factory : InfoBankFactory
    {
        private readonly SemaphoreSlim _lock = new(1, 1);
        private Dictionary<string, ListCase>? _cases;

        public async Task<IReadOnlyDictionary<string, ListCase>> CasesAsync()
        {
            await _lock.WaitAsync();
            try
            {
                return _cases ??= await BuildAsync();
            }
            finally
            {
                _lock.Release();
            }
        }

        private static string Text(JsonElement item, string name) => item.GetProperty(name).ToString();

        private async Task<Dictionary<string, ListCase>> BuildAsync()
        {
            var cases = new Dictionary<string, ListCase>(StringComparer.Ordinal);
            var scenario = new AccessScenario(this);

            // Three approved grants, each with its offer; the first business applies twice more (drafts).
            var grants = new List<(Guid GrantId, string ClientId, HttpClient Business)>();
            for (var i = 0; i < 3; i++)
            {
                grants.Add(await scenario.ApprovedGrantAsync());
            }
            var approved = new List<string>();
            foreach (var grant in grants)
            {
                approved.Add((await grant.Business.GetFromJsonAsync<JsonElement>("/api/v1/applications")).GetProperty("items")[0].GetProperty("id").GetString()!);
            }
            var business = grants[0].Business;
            var applications = new List<string> { approved[0] };
            for (var i = 0; i < 2; i++)
            {
                var draft = await JsonOf(await business.PostAsJsonAsync("/api/v1/applications", ApplicationServiceTests<SqliteFixture>.Example("fitness-club"), Web), HttpStatusCode.Created);
                applications.Add(draft.GetProperty("id").GetString()!);
            }
            var offers = new List<Core.Consent.OfferTerms>();
            foreach (var grant in grants)
            {
                offers.Add(await scenario.OfferOfAsync(grant.GrantId));
            }
            cases["/api/v1/offers"] = new(CreateClient(), "/api/v1/offers", o => Text(o, "offerId"), [.. offers.Select(o => o.OfferId.ToString())], false);
            cases["/api/v1/applications"] = new(business, "/api/v1/applications", a => Text(a, "id"), applications, true);
            var (_, chairToken) = await this.SignInAsync(AccountKind.Committee, CommitteeRoles.Chair);
            var committee = this.CreateClientWithToken(chairToken);
            cases["/api/v1/committee/applications"] = new(committee, "/api/v1/committee/applications?status=approved", a => Text(a, "id"), approved, false);

            // A resident who consents to the three offers, has records of their own, and whose records the first grant reads.
            var resident = await scenario.ResidentAsync();
            var (sourceId, sourceToken) = await this.ClientTokenAsync(ClientKind.DataSource);
            var source = this.CreateClientWithToken(sourceToken);
            await DepositStepsAsync(source, sourceId, resident, days: 5);
            var consents = new List<string>();
            foreach (var offer in offers)
            {
                consents.Add((await ConsentAsync(resident, offer)).ToString());
            }
            cases["/api/v1/me/consents"] = new(resident.Http, "/api/v1/me/consents", c => Text(c, "consentId"), consents, true);
            var records = (await resident.Http.GetFromJsonAsync<JsonElement>("/api/v1/me/records?limit=200")).GetProperty("items").EnumerateArray().ToList();
            Assert.Equal(5, records.Count);
            cases["/api/v1/me/records"] = new(resident.Http, "/api/v1/me/records", r => Text(r, "id"), [.. records.Select(r => Text(r, "id"))], true);
            cases["/api/v1/grants/{id:guid}/records"] = new(business, $"/api/v1/grants/{grants[0].GrantId}/records", r => $"{Text(r, "subject")} {Text(r, "observedAt")}",
                [.. records.Select(r => Text(r, "observedAt"))], true);

            // Passbook lines, accesses and alerts stored directly, three of each at one instant so the id breaks the tie.
            var store = Services.GetRequiredService<AccessStore>();
            var (holder, holderToken) = await this.SignInAsync(AccountKind.Resident);
            var loggedGrant = Guid.NewGuid();
            var at = DateTimeOffset.UtcNow.AddMinutes(-5);
            var entries = new List<AccessLogEntry>();
            for (var i = 0; i < 4; i++)
            {
                var entry = AccessStoreTests<SqliteFixture>.Entry(loggedGrant, grants[0].ClientId, i == 3 ? at.AddSeconds(-1) : at);
                await store.RecordAsync(entry, [new Provision(holder, 1, 10)], CancellationToken.None);
                entries.Add(entry);
            }
            var ids = entries.Select(e => e.Id.ToString()).ToList();
            cases["/api/v1/me/passbook"] = new(this.CreateClientWithToken(holderToken), "/api/v1/me/passbook", l => Text(l, "accessId"), ids, true);
            cases["/api/v1/committee/access-log"] = new(committee, $"/api/v1/committee/access-log?grantId={loggedGrant}", e => Text(e, "id"), ids, true);
            var alerts = Enumerable.Range(0, 3).Select(i => new AccessAlert(loggedGrant, AlertKind.Spike, at, $"{loggedGrant:N}:Spike:{i}", "spike")).ToList();
            await store.SaveAlertsAsync(alerts, CancellationToken.None);
            cases["/api/v1/committee/alerts"] = new(committee, $"/api/v1/committee/alerts?grantId={loggedGrant}", a => Text(a, "key"), [.. alerts.Select(a => a.Key)], true);

            // Accounts and clients: the whole list, which holds at least these.
            var (_, operatorToken) = await this.SignInAsync(AccountKind.Operator);
            var operatorHttp = this.CreateClientWithToken(operatorToken);
            var accounts = new List<string>();
            for (var i = 0; i < 3; i++)
            {
                accounts.Add((await this.CreateAccountAsync(AccountKind.Auditor)).Account.Id.ToString());
            }
            cases["/api/v1/admin/accounts"] = new(operatorHttp, "/api/v1/admin/accounts", a => Text(a, "id"), accounts, false);
            cases["/api/v1/admin/clients"] = new(operatorHttp, "/api/v1/admin/clients", c => Text(c, "clientId"), [.. grants.Select(g => g.ClientId), sourceId], false);

            // Audit entries of one subject, and the checkpoints from the first of three.
            var (_, auditorToken) = await this.SignInAsync(AccountKind.Auditor);
            var auditor = this.CreateClientWithToken(auditorToken);
            var subject = Guid.NewGuid();
            var sequences = new List<string>();
            var checkpoints = new List<string>();
            for (var i = 0; i < 3; i++)
            {
                var appended = await Services.GetRequiredService<IAuditLog>().AppendAsync(
                    new AuditEntryDraft(AuditKinds.AccessDenied, "client:lists", subject.ToString(), "lists", Payload: new { i }));
                sequences.Add(appended.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture));
                var checkpoint = await Services.GetRequiredService<AuditCheckpointJob>().RunAsync(CancellationToken.None)
                    ?? (await Services.GetRequiredService<AuditStore>().LatestCheckpointAsync())!;
                checkpoints.Add(checkpoint.TreeSize.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            var pseudonym = await Services.GetRequiredService<AuditStore>().PseudonymOfAsync(subject);
            cases["/api/v1/audit/entries"] = new(auditor, $"/api/v1/audit/entries?subject={pseudonym}", e => Text(e, "sequence"), sequences, true);
            cases["/api/v1/audit/checkpoints"] = new(auditor, $"/api/v1/audit/checkpoints?from={checkpoints[0]}", c => Text(c, "treeSize"), checkpoints, false);
            return cases;
        }
    }

    /// <summary>Every GET endpoint of the API with the type of its 200 answer.</summary>
    private IReadOnlyList<(string Route, Type? Body)> GetEndpoints() =>
        [.. factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods.Contains(HttpMethods.Get) == true)
            .Select(e => (Route(e.RoutePattern.RawText), e.Metadata.OfType<IProducesResponseTypeMetadata>().FirstOrDefault(p => p.StatusCode == StatusCodes.Status200OK)?.Type))];

    /// <summary>A route as this test names it: a group's "" and "/" endpoints are the same list.</summary>
    private static string Route(string? rawText) => rawText is null or "/" ? rawText ?? "" : rawText.TrimEnd('/');

    private static bool IsPage(Type? type) =>
        type is not null && (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Page<>) || IsPage(type.BaseType));

    /// <summary>
    /// GET endpoints allowed to answer a bare array: the problem-type catalog is compiled into the
    /// server (a few dozen entries that only a release changes), not data that grows with use.
    /// </summary>
    private static readonly string[] NotLists = ["/problems"];

    private static bool IsBareList(Type type) =>
        type != typeof(string) && type != typeof(byte[]) && !IsPage(type) && typeof(IEnumerable).IsAssignableFrom(type)
        && !type.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>));

    private static readonly string[] ListRoutes =
    [
        "/api/v1/offers", "/api/v1/applications", "/api/v1/committee/applications", "/api/v1/me/consents", "/api/v1/me/records",
        "/api/v1/grants/{id:guid}/records", "/api/v1/me/passbook", "/api/v1/committee/access-log", "/api/v1/committee/alerts",
        "/api/v1/admin/accounts", "/api/v1/admin/clients", "/api/v1/audit/entries", "/api/v1/audit/checkpoints",
    ];

    public static TheoryData<string> Lists() => new(ListRoutes);

    [Fact]
    public void Every_GET_list_answers_a_page_and_is_walked_here()
    {
        var endpoints = GetEndpoints();
        Assert.NotEmpty(endpoints);
        Assert.Empty(endpoints.Where(e => e.Body is { } body && IsBareList(body) && !NotLists.Contains(e.Route)).Select(e => $"{e.Route} answers a bare {e.Body!.Name}, not a Page<T>"));
        Assert.Equal(ListRoutes.Order(StringComparer.Ordinal), endpoints.Where(e => IsPage(e.Body)).Select(e => e.Route).Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Lists))]
    public async Task A_list_serves_every_item_once_over_pages_linked_by_next(string route)
    {
        var list = (await factory.CasesAsync())[route];
        var url = list.Url + (list.Url.Contains('?') ? "&" : "?") + $"limit={Limit}";
        var served = new List<string>();
        var pages = 0;
        while (url is not null)
        {
            using var response = await list.Http.GetAsync(url);
            var page = await JsonOf(response, HttpStatusCode.OK);
            var items = page.GetProperty("items").EnumerateArray().ToList();
            Assert.True(items.Count <= Limit, $"page {pages} of {route} holds {items.Count} items, over the limit {Limit}");
            served.AddRange(items.Select(list.Id));
            pages++;
            var next = page.GetProperty("next");
            if (next.ValueKind == JsonValueKind.Null)
            {
                Assert.False(response.Headers.Contains("Link"), $"the last page of {route} has a Link header");
                url = null;
                continue;
            }
            var link = Assert.Single(response.Headers.GetValues("Link"));
            Assert.Equal($"<{next.GetString()}>; rel=\"next\"", link);
            Assert.Contains($"limit={Limit}", link, StringComparison.Ordinal);
            url = link[1..link.IndexOf('>', StringComparison.Ordinal)];
            Assert.True(pages < 500, $"{route} does not end");
        }
        Assert.True(pages >= 2, $"{route} served everything on {pages} page(s)");
        Assert.Equal(served.Distinct(StringComparer.Ordinal).Count(), served.Count);
        if (route == "/api/v1/grants/{id:guid}/records")
        {
            // One resident's records under their pseudonym: their observation times identify them.
            Assert.Single(served.Select(s => s.Split(' ')[0]).Distinct());
            Assert.Equal(list.Expected.Select(DateTimeOffset.Parse).Order(), served.Select(s => DateTimeOffset.Parse(s.Split(' ', 2)[1])).Order());
        }
        else if (list.Exact)
        {
            Assert.Equal(list.Expected.Order(StringComparer.Ordinal), served.Order(StringComparer.Ordinal));
        }
        else
        {
            Assert.Empty(list.Expected.Except(served, StringComparer.Ordinal));
        }
    }

    [Theory]
    [MemberData(nameof(Lists))]
    public async Task A_bad_limit_or_cursor_is_an_invalid_parameter(string route)
    {
        var list = (await factory.CasesAsync())[route];
        var separator = list.Url.Contains('?') ? "&" : "?";
        foreach (var (query, parameter) in new[] { ("limit=0", "limit"), ("limit=201", "limit"), ("cursor=bm90LWEtY3Vyc29y", "cursor"), ("cursor=not*base64", "cursor") })
        {
            using var response = await list.Http.GetAsync(list.Url + separator + query);
            var problem = await JsonOf(response, HttpStatusCode.BadRequest);
            Assert.Equal(ProblemTypesUri, problem.GetProperty("type").GetString());
            Assert.True(problem.GetProperty("errors").TryGetProperty(parameter, out _), $"{route}?{query}: {problem}");
        }
    }

    private const string ProblemTypesUri = "/problems/invalid-parameter";
}
