using System.Reflection;
using System.Text.Json;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Infrastructure.Web;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>
/// The OpenAPI document as a client reads it: each operation's specific problem types under the
/// status they come with, an example and member descriptions for request bodies, enums as the
/// strings the API writes, and how to get a token. The endpoint checks read the endpoint data
/// source, so a new endpoint or a new problem type that no endpoint declares fails here.
/// </summary>
public sealed class OpenApiDocumentTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    /// <summary>
    /// Types the HTTP layer and the middleware give on any endpoint of a kind (the operation
    /// transformer lists them from the route's shape), or that the pipeline gives by status alone:
    /// no endpoint declares these itself.
    /// </summary>
    private static readonly HashSet<ProblemType> Generic =
    [
        ProblemTypes.MalformedRequest, ProblemTypes.InvalidParameter, ProblemTypes.DotSegment, ProblemTypes.TokenInUrl,
        ProblemTypes.BodyTooLarge, ProblemTypes.UnsupportedMediaType, ProblemTypes.NotFound, ProblemTypes.MethodNotAllowed,
        ProblemTypes.Unauthenticated, ProblemTypes.AccountErased, ProblemTypes.Forbidden, ProblemTypes.RateLimited,
        ProblemTypes.Conflict, ProblemTypes.Refused, ProblemTypes.StorageUnavailable, ProblemTypes.Internal,
    ];

    private async Task<JsonElement> DocumentAsync()
    {
        using var client = factory.CreateClient();
        return JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json")).RootElement.Clone();
    }

    private static JsonElement Operation(JsonElement document, string operationId) =>
        document.GetProperty("paths").EnumerateObject().SelectMany(p => p.Value.EnumerateObject()).Select(o => o.Value)
            .Single(o => o.TryGetProperty("operationId", out var id) && id.GetString() == operationId);

    private static IEnumerable<RouteEndpoint> ApiEndpoints(IServiceProvider services) =>
        services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText is { } raw && (raw.StartsWith("/api/", StringComparison.Ordinal) || raw.StartsWith("/problems", StringComparison.Ordinal)));

    [Theory]
    [InlineData("GiveConsent", "409", new[] { "not-enrolled", "offer-not-open", "notice-not-current", "already-consented", "conflict" })]
    [InlineData("GiveConsent", "422", new[] { "special-care-not-named", "consent-window-not-offered" })]
    [InlineData("GiveConsent", "404", new[] { "not-found" })]
    [InlineData("DepositRecords", "413", new[] { "too-many-records", "body-too-large" })]
    [InlineData("DepositRecords", "422", new[] { "deposit-refused", "outside-retention" })]
    [InlineData("ReadGrantRecords", "403", new[] { "grant-inactive", "access-kind-not-approved", "fetches-exhausted", "forbidden" })]
    [InlineData("ReadGrantRecords", "429", new[] { "over-approved-frequency", "rate-limited" })]
    [InlineData("ReadGrantRecords", "400", new[] { "invalid-parameter" })]
    [InlineData("DecideApplication", "409", new[] { "wrong-state", "no-quorum", "policy-denies" })]
    [InlineData("DecideApplication", "403", new[] { "role-not-allowed", "forbidden" })]
    public async Task An_operation_lists_its_specific_problem_types_under_their_status(string operationId, string status, string[] slugs)
    {
        var responses = Operation(await DocumentAsync(), operationId).GetProperty("responses");
        var response = responses.GetProperty(status);
        Assert.Equal("#/components/schemas/Problem", response.GetProperty("content").GetProperty("application/problem+json").GetProperty("schema").GetProperty("$ref").GetString());
        var description = response.GetProperty("description").GetString()!;
        var listed = response.GetProperty("x-problem-types").EnumerateArray().Select(t => t.GetString()!).ToList();
        foreach (var slug in slugs)
        {
            var type = ProblemTypes.All[slug];
            Assert.Contains($"`/problems/{slug}` ({type.Title})", description);
            Assert.Contains($"/problems/{slug}", listed);
        }
        // Exactly the declared and generic types of that status: none listed twice, none under another status.
        Assert.Equal(listed.Count, listed.Distinct().Count());
        Assert.All(listed, uri => Assert.Equal(int.Parse(status, System.Globalization.CultureInfo.InvariantCulture), ProblemTypes.All[uri["/problems/".Length..]].Status));
    }

    [Fact]
    public async Task A_specific_type_is_listed_only_where_its_endpoint_declares_it()
    {
        var document = await DocumentAsync();
        string[] Listed(string operationId) => [.. Operation(document, operationId).GetProperty("responses").EnumerateObject()
            .Where(r => r.Value.TryGetProperty("x-problem-types", out _))
            .SelectMany(r => r.Value.GetProperty("x-problem-types").EnumerateArray()).Select(t => t.GetString()!)];
        Assert.DoesNotContain("/problems/already-consented", Listed("DepositRecords"));
        Assert.DoesNotContain("/problems/policy-denies", Listed("VoteOnApplication"));
        Assert.Contains("/problems/already-done", Listed("VoteOnApplication"));
        Assert.DoesNotContain("/problems/aggregate-not-approved", Listed("ReadGrantRecords"));
        Assert.Contains("/problems/aggregate-not-approved", Listed("QueryGrantAggregates"));
        // An anonymous operation has no authentication problems.
        Assert.DoesNotContain("/problems/account-erased", Listed("ListOffers"));
    }

    [Fact]
    public void Every_specific_problem_type_is_declared_by_an_endpoint_and_every_endpoint_declares_its_own()
    {
        var endpoints = ApiEndpoints(factory.Services).ToList();
        var undeclared = endpoints.Where(e => e.Metadata.GetMetadata<ProblemsMetadata>() is null).Select(e => e.RoutePattern.RawText).ToList();
        Assert.True(undeclared.Count == 0, $"endpoints without .ProducesProblems(…): {string.Join(", ", undeclared)}");

        var declared = endpoints.SelectMany(e => e.Metadata.OfType<ProblemsMetadata>()).SelectMany(m => m.Types).Select(t => t.Slug).ToHashSet(StringComparer.Ordinal);
        var specific = typeof(ProblemTypes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(ProblemType)).Select(f => (ProblemType)f.GetValue(null)!).Where(t => !Generic.Contains(t)).ToList();
        Assert.NotEmpty(specific);
        var missing = specific.Where(t => !declared.Contains(t.Slug)).Select(t => t.Slug).ToList();
        Assert.True(missing.Count == 0, $"problem types no endpoint declares (add them to the endpoints that answer them, or to Generic if the middleware gives them): {string.Join(", ", missing)}");
    }

    [Fact]
    public async Task Every_json_request_body_has_an_example_the_api_reads()
    {
        var document = await DocumentAsync();
        var bodies = document.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Select(o => (Route: $"{o.Name.ToUpperInvariant()} {p.Name}", Op: o.Value)))
            .Where(o => o.Op.TryGetProperty("requestBody", out var body) && body.GetProperty("content").TryGetProperty("application/json", out _))
            .ToList();
        Assert.NotEmpty(bodies);
        Assert.All(bodies, b => Assert.True(
            b.Op.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").TryGetProperty("example", out _), $"{b.Route} has no request example"));

        // Each example is a body the API accepts as it reads JSON (unknown members and strings for numbers refused).
        var json = factory.Services.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        foreach (var (type, example) in OpenApiBodies.Examples)
        {
            Assert.NotNull(JsonSerializer.Deserialize(example, type, json));
        }
    }

    [Fact]
    public async Task The_main_request_bodies_describe_their_members_also_those_that_are_references()
    {
        var schemas = (await DocumentAsync()).GetProperty("components").GetProperty("schemas");
        foreach (var (schema, members) in new[]
        {
            ("DepositRecord", new[] { "resident", "category", "observedAt", "payload", "sourceRecordId" }),
            ("GiveConsentRequest", new[] { "offerId", "noticeVersion", "noticeHash", "specialCareItems", "lookbackDays" }),
            ("ApplicationSpec", new[] { "purpose", "data", "output", "fetch", "lookbackDays" }),
            ("AggregateRequest", new[] { "category", "groupBy", "measures", "filters" }),
        })
        {
            var properties = schemas.GetProperty(schema).GetProperty("properties");
            Assert.All(members, m => Assert.False(string.IsNullOrWhiteSpace(properties.GetProperty(m).GetProperty("description").GetString()), $"{schema}.{m}"));
        }
    }

    [Fact]
    public async Task Enums_are_the_strings_the_api_writes()
    {
        var document = await DocumentAsync();
        var schemas = document.GetProperty("components").GetProperty("schemas").EnumerateObject().ToList();
        var enums = schemas.Where(s => s.Value.TryGetProperty("enum", out _)).ToList();
        Assert.NotEmpty(enums);
        Assert.All(enums, e =>
        {
            Assert.Equal("string", e.Value.GetProperty("type").GetString());
            Assert.All(e.Value.GetProperty("enum").EnumerateArray(), v => Assert.Equal(JsonValueKind.String, v.ValueKind));
        });
        Assert.Equal(["integer", "number", "string", "boolean"], schemas.Single(s => s.Name == "FieldType").Value.GetProperty("enum").EnumerateArray().Select(v => v.GetString()));

        // And the answer matches: the inventory's field types are those strings, not numbers.
        using var client = factory.CreateClient();
        using var inventory = JsonDocument.Parse(await client.GetStringAsync("/api/v1/inventory"));
        var types = inventory.RootElement.GetProperty("categories").EnumerateArray()
            .SelectMany(c => c.GetProperty("fields").EnumerateObject()).Select(f => f.Value.GetProperty("type")).ToList();
        Assert.NotEmpty(types);
        Assert.All(types, t => Assert.Contains(t.GetString(), new[] { "integer", "number", "string", "boolean" }));
    }

    [Fact]
    public async Task The_document_alone_says_how_to_get_a_token()
    {
        var document = await DocumentAsync();
        var description = document.GetProperty("info").GetProperty("description").GetString()!;
        foreach (var text in new[]
        {
            "/.well-known/openid-configuration", "POST /connect/token", "grant_type=client_credentials", "scope=business", "scope=deposit",
            "/connect/authorize", "code_challenge_method=S256", "grant_type=authorization_code", "code_verifier", "grant_type=refresh_token",
            "/connect/revoke", "/connect/introspect", "/connect/userinfo", "/connect/endsession", "Authorization: Bearer",
        })
        {
            Assert.Contains(text, description);
        }
        var schemes = document.GetProperty("components").GetProperty("securitySchemes");
        var flows = schemes.GetProperty("oauth2").GetProperty("flows");
        var code = flows.GetProperty("authorizationCode");
        Assert.Equal("/connect/authorize", code.GetProperty("authorizationUrl").GetString());
        Assert.Equal("/connect/token", code.GetProperty("tokenUrl").GetString());
        Assert.Equal("/connect/token", code.GetProperty("refreshUrl").GetString());
        Assert.True(code.GetProperty("scopes").TryGetProperty("resident", out _));
        Assert.True(flows.GetProperty("clientCredentials").GetProperty("scopes").TryGetProperty("deposit", out _));
        // /reference sends a pasted token through the bearer scheme.
        Assert.Equal("bearer", schemes.GetProperty("bearer").GetProperty("scheme").GetString());
    }
}
