using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using InfoBank.Server.Infrastructure;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace InfoBank.Server.Tests.Foundation;

public sealed class HostTests(HostTests.Factory factory) : IClassFixture<HostTests.Factory>
{
    /// <summary>A JSON endpoint with the shapes real features use, to exercise the shared error handling.</summary>
    public sealed class Factory : InfoBankFactory
    {
        protected override IEnumerable<IApiModule> ExtraModules => [new EchoModule()];
    }

    private sealed record EchoRequest(string Name, int Count);

    private sealed class EchoModule : IApiModule
    {
        public void MapEndpoints(IEndpointRouteBuilder routes)
        {
            // Open to anyone: these exercise error handling, not authorization (deny is the default).
            var open = routes.MapGroup("/test").AllowAnonymous();
            open.MapPost("/echo", (EchoRequest request) => TypedResults.Ok(request));
            open.MapPost("/small", (EchoRequest request) => TypedResults.Ok(request)).WithRequestBodyLimit(64);
            open.MapGet("/items/{id:guid}", (Guid id) => TypedResults.Ok(id));
            open.MapGet("/boom", string () => throw new InvalidOperationException("secret internals"));
            open.MapGet("/busy", string () => throw new Microsoft.Data.Sqlite.SqliteException("database is locked", 5));
        }
    }

    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task Live_and_ready_report_healthy()
    {
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/health/live")).StatusCode);
        var ready = await _client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task OpenApi_document_is_served_and_describes_v1()
    {
        using var doc = JsonDocument.Parse(await _client.GetStringAsync("/openapi/v1.json"));
        Assert.StartsWith("3.", doc.RootElement.GetProperty("openapi").GetString());
        Assert.True(doc.RootElement.TryGetProperty("paths", out _));
    }

    [Fact]
    public async Task Every_operation_states_its_security_scope_and_its_problem_answers()
    {
        using var doc = JsonDocument.Parse(await _client.GetStringAsync("/openapi/v1.json"));
        // Routes under /test exist only in test hosts (ExtraModules).
        var operations = doc.RootElement.GetProperty("paths").EnumerateObject().Where(path => !path.Name.StartsWith("/test/", StringComparison.Ordinal))
            .SelectMany(path => path.Value.EnumerateObject().Select(op => (Route: $"{op.Name.ToUpperInvariant()} {path.Name}", Op: op.Value)))
            .ToDictionary(o => o.Route, o => o.Op);
        Assert.All(operations, o => Assert.True(o.Value.TryGetProperty("security", out _), $"{o.Key} states no security"));
        Assert.All(operations, o => Assert.True(o.Value.TryGetProperty("operationId", out _) && o.Value.TryGetProperty("summary", out _), $"{o.Key} has no name or summary"));

        string[] Scopes(string route) => [.. operations[route].GetProperty("security").EnumerateArray()
            .SelectMany(r => r.EnumerateObject()).Where(s => s.Name == "oauth2").SelectMany(s => s.Value.EnumerateArray()).Select(s => s.GetString()!)];
        Assert.Equal(0, operations["GET /api/v1/custody/terms"].GetProperty("security").GetArrayLength());
        Assert.Equal(["resident"], Scopes("GET /api/v1/me/consents"));
        Assert.Equal(["deposit"], Scopes("POST /api/v1/records"));
        Assert.Equal(["audit"], Scopes("GET /api/v1/audit/export"));
        Assert.Equal(["business"], Scopes("GET /api/v1/grants/{id}/records"));

        // Each operation lists the problems it can answer, each with the problem schema.
        var withdraw = operations["DELETE /api/v1/me/consents/{consentId}"].GetProperty("responses");
        foreach (var status in new[] { "401", "403", "404", "503" })
        {
            Assert.True(withdraw.GetProperty(status).GetProperty("content").TryGetProperty("application/problem+json", out _), $"no {status} problem");
        }
        Assert.False(operations["GET /api/v1/custody/terms"].GetProperty("responses").TryGetProperty("401", out _));
        var schemes = doc.RootElement.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal("/connect/token", schemes.GetProperty("oauth2").GetProperty("flows").GetProperty("clientCredentials").GetProperty("tokenUrl").GetString());
    }

    [Fact]
    public async Task Api_reference_page_is_served()
    {
        var response = await _client.GetAsync("/reference/v1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("text/html", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Unknown_route_is_a_404_problem()
    {
        var response = await _client.GetAsync("/api/v1/no-such-thing");
        var problem = await AssertProblem(response, HttpStatusCode.NotFound);
        Assert.Equal("/api/v1/no-such-thing", problem.GetProperty("instance").GetString());
    }

    [Fact]
    public async Task Malformed_json_is_a_400_problem_that_says_where()
    {
        var response = await _client.PostAsync("/test/echo", Json("{\"name\": \"a\", \"count\": }"));
        var problem = await AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.Contains("not valid JSON", problem.GetProperty("detail").GetString());
        Assert.Contains("$.count", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Wrong_type_is_a_400_problem()
    {
        var response = await _client.PostAsync("/test/echo", Json("{\"name\": \"a\", \"count\": \"many\"}"));
        var problem = await AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.Contains("$.count", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Unknown_property_is_refused_rather_than_ignored()
    {
        var response = await _client.PostAsync("/test/echo", Json("{\"name\": \"a\", \"count\": 1, \"cuont\": 2}"));
        var problem = await AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.Contains("cuont", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Well_formed_json_passes_through()
    {
        var response = await _client.PostAsJsonAsync("/test/echo", new { name = "a", count = 2 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Oversize_body_with_length_is_a_413_problem()
    {
        var body = "{\"name\": \"" + new string('x', 200) + "\", \"count\": 1}";
        var response = await _client.PostAsync("/test/small", Json(body));
        var problem = await AssertProblem(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("64 bytes", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Oversize_chunked_body_is_a_413_problem()
    {
        var body = "{\"name\": \"" + new string('x', 200) + "\", \"count\": 1}";
        var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body)));
        content.Headers.ContentType = new("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, "/test/small") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        var response = await _client.SendAsync(request);
        await AssertProblem(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task Default_body_limit_applies_to_every_endpoint()
    {
        var body = "{\"name\": \"" + new string('x', 2 * 1024 * 1024) + "\", \"count\": 1}";
        var response = await _client.PostAsync("/test/echo", Json(body));
        await AssertProblem(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task Malformed_route_id_is_a_404_problem()
    {
        var response = await _client.GetAsync("/test/items/not-a-guid");
        await AssertProblem(response, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Wrong_method_is_a_405_problem()
    {
        var response = await _client.DeleteAsync("/test/echo");
        await AssertProblem(response, HttpStatusCode.MethodNotAllowed);
    }

    [Fact]
    public async Task Unexpected_failure_is_a_problem_without_internals()
    {
        var response = await _client.GetAsync("/test/boom");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("secret internals", text);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Database_contention_is_a_503_with_retry_after_not_a_500()
    {
        var response = await _client.GetAsync("/test/busy");
        var problem = await AssertProblem(response, HttpStatusCode.ServiceUnavailable);
        Assert.Equal("1", response.Headers.RetryAfter?.ToString());
        Assert.DoesNotContain("database is locked", problem.GetRawText());
    }

    [Fact]
    public async Task Jobs_dashboard_is_refused_to_anonymous_callers()
    {
        var response = await _client.GetAsync("/jobs");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    internal static async Task<JsonElement> AssertProblem(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal((int)status, doc.RootElement.GetProperty("status").GetInt32());
        return doc.RootElement.Clone();
    }
}
