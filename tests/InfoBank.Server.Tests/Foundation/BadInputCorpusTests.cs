using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Dapper;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Tests.Access;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>
/// Every operation of the OpenAPI document gets the same corpus of bad input, with a valid token of
/// the kind the route needs: malformed JSON, a repeated key, a wrong type and huge numbers at each
/// member of a body built from the operation's schema, bad query values, an unknown charset, dot
/// segments, an oversize body (declared and chunked) and a token in the query. Each request must be
/// refused with a 4xx, never a 5xx, and leave every business table as it was (the audit and access
/// logs may record the refusal). The server holds real state first (a grant, its offer, an enrolled
/// resident with records and a consent), and the path parameters name it, so a request that got
/// through to its handler would show.
/// </summary>
public sealed partial class BadInputCorpusTests(BadInputCorpusTests.Factory factory, ITestOutputHelper output) : IClassFixture<BadInputCorpusTests.Factory>
{
    public sealed class Factory : InfoBankFactory
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            // Small limits keep the oversize cases small; every route's own limit is read from its metadata.
            builder.UseSetting("Limits:MaxRequestBodyBytes", "16384");
            builder.UseSetting("Custody:MaxBatchBytes", "32768");
        }
    }

    /// <summary>Tables that record refusals: the audit log (and its tree) and the access log.</summary>
    private static readonly string[] LogTables = ["audit_log", "audit_tree_nodes", "audit_frontier", "audit_checkpoints", "access_log"];

    private sealed record Operation(string Method, string Template, JsonElement Definition, Endpoint Endpoint);

    private sealed record Case(string Name, Func<Task<(int Status, string Body)>> Send);

    private sealed class World
    {
        public required Dictionary<string, string> Tokens { get; init; }

        public required Dictionary<string, string> Ids { get; init; }
    }

    [Fact]
    public async Task Every_operation_refuses_bad_input_without_a_5xx_or_a_change()
    {
        var world = await BuildWorldAsync();
        var document = await OpenApiAsync();
        var operations = Operations(document).ToList();
        Assert.True(operations.Count > 40, $"only {operations.Count} operations in the OpenAPI document");
        var tables = await BusinessTablesAsync();
        Assert.Contains("consents", tables);
        Assert.Contains("custody_records", tables);

        var failures = new List<string>();
        var sent = 0;
        foreach (var operation in operations)
        {
            foreach (var @case in Cases(operation, document, world))
            {
                var before = await CountsAsync(tables);
                var (status, body) = await @case.Send();
                var after = await CountsAsync(tables);
                sent++;
                var label = $"{operation.Method} {operation.Template} [{@case.Name}]";
                if (status is < 400 or >= 500)
                {
                    failures.Add($"{label}: {status} {Shorten(body)}");
                }
                else if (ProblemFault(body) is { } fault)
                {
                    failures.Add($"{label}: {status} {fault}: {Shorten(body)}");
                }
                var changed = tables.Where(t => before[t] != after[t]).Select(t => $"{t} {before[t]}→{after[t]}").ToList();
                if (changed.Count > 0)
                {
                    failures.Add($"{label}: changed {string.Join(", ", changed)}");
                }
            }
        }
        output.WriteLine($"{operations.Count} operations, {sent} requests");
        Assert.True(failures.Count == 0, $"{failures.Count} of {sent} bad requests were not refused cleanly:\n" + string.Join("\n", failures));
    }

    // ---- the world the corpus runs against ----

    private async Task<World> BuildWorldAsync()
    {
        var scenario = new AccessScenario(factory);
        var (grantId, _, business) = await scenario.ApprovedGrantAsync("fitness-club");
        var offer = await scenario.OfferOfAsync(grantId);
        var resident = await scenario.ResidentAsync();
        var (sourceId, sourceToken) = await factory.ClientTokenAsync(ClientKind.DataSource);
        using var source = factory.CreateClientWithToken(sourceToken);
        await AccessScenario.DepositStepsAsync(source, sourceId, resident, 3);
        var consentId = await AccessScenario.ConsentAsync(resident, offer);

        await using (var connection = await factory.Connections.OpenAsync())
        {
            var applicationId = await connection.ExecuteScalarAsync<Guid>("SELECT application_id FROM grants WHERE id = @grantId", new { grantId });
            return new World
            {
                Tokens = new()
                {
                    [AuthPolicies.Resident] = resident.Http.DefaultRequestHeaders.Authorization!.Parameter!,
                    [AuthPolicies.Business] = business.DefaultRequestHeaders.Authorization!.Parameter!,
                    [AuthPolicies.DataSource] = sourceToken,
                    [AuthPolicies.Committee] = (await factory.SignInAsync(AccountKind.Committee, CommitteeRoles.Chair)).AccessToken,
                    [AuthPolicies.Auditor] = (await factory.SignInAsync(AccountKind.Auditor)).AccessToken,
                    [AuthPolicies.Operator] = (await factory.SignInAsync(AccountKind.Operator)).AccessToken,
                },
                Ids = new()
                {
                    ["grants/{id}"] = grantId.ToString(),
                    ["applications/{id}"] = applicationId.ToString(),
                    ["accounts/{id}"] = resident.Id.ToString(),
                    ["{offerId}"] = offer.OfferId.ToString(),
                    ["{consentId}"] = consentId.ToString(),
                    ["{clientId}"] = sourceId,
                    ["{sequence}"] = "1",
                    ["{slug}"] = "not-found",
                },
            };
        }
    }

    private async Task<JsonElement> OpenApiAsync()
    {
        using var http = factory.CreateClient();
        return JsonSerializer.Deserialize<JsonElement>(await http.GetStringAsync("/openapi/v1.json"));
    }

    private IEnumerable<Operation> Operations(JsonElement document)
    {
        var endpoints = factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? []).Select(m => (Key: $"{m} {Normalise(e.RoutePattern.RawText!)}", Endpoint: e)))
            .ToDictionary(x => x.Key, x => (Endpoint)x.Endpoint);
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                var method = operation.Name.ToUpperInvariant();
                var key = $"{method} {Normalise(path.Name)}";
                Assert.True(endpoints.TryGetValue(key, out var endpoint), $"the OpenAPI document lists {key}, which no endpoint serves");
                yield return new Operation(method, path.Name, operation.Value, endpoint);
            }
        }
    }

    private static string Normalise(string pattern)
    {
        var text = RouteConstraint().Replace(pattern, "}").TrimEnd('/');
        return (text.StartsWith('/') ? text : "/" + text).ToLowerInvariant();
    }

    // ---- the corpus ----

    private IEnumerable<Case> Cases(Operation operation, JsonElement document, World world)
    {
        var policy = operation.Endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null ? null
            : operation.Endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy).FirstOrDefault(p => p is not null) ?? AuthPolicies.Resident;
        var token = policy is null ? null : world.Tokens[policy];
        var path = FillPath(operation.Template, world);
        var method = operation.Method;
        var limit = operation.Endpoint.Metadata.GetMetadata<IRequestSizeLimitMetadata>()?.MaxRequestBodySize
            ?? factory.Services.GetRequiredService<IOptions<LimitsOptions>>().Value.MaxRequestBodyBytes;

        var sample = SampleBody(operation.Definition, document);
        var sampleText = sample?.ToJsonString() ?? "{}";

        if (sample is not null)
        {
            yield return Http("malformed JSON", method, path, token, sampleText[..(sampleText.Length / 2)]);
            yield return Http("malformed JSON (trailing comma)", method, path, token, "{\"a\":1,}");
            yield return Http("repeated key", method, path, token, RepeatFirstKey(sample));
            foreach (var (description, body) in Mutations(sample).Take(16))
            {
                yield return Http(description, method, path, token, body);
            }
        }
        foreach (var (description, query) in QueryMutations(operation.Definition))
        {
            yield return Http(description, method, path + query, token, sample is null ? null : sampleText);
        }
        yield return Http("unknown charset", method, path, token, sampleText, "application/json; charset=latin-99");
        yield return Http("UTF-16", method, path, token, sampleText, "application/json; charset=utf-16");
        yield return Http("token in the query", method, path + "?access_token=" + (token ?? world.Tokens[AuthPolicies.Resident]), token, sample is null ? null : sampleText);
        yield return Http("oversize body", method, path, token, "{\"x\":\"" + new string('x', (int)limit) + "\"}");
        yield return Http("oversize chunked body", method, path, token, "{\"x\":\"" + new string('x', (int)limit) + "\"}", chunked: true);

        var (directory, last) = (path[..path.LastIndexOf('/')], path[(path.LastIndexOf('/') + 1)..]);
        yield return Raw("dot segment %2e%2e", method, path + "/%2e%2e", directory + "/", token);
        yield return Raw("dot segment %2E%2E/", method, path + "/%2E%2E/", directory + "/", token);
        yield return Raw("dot segment /./", method, directory + "/./" + last, path, token);
        yield return Raw("dot segment /x/../", method, directory + "/x/../" + last, path, token);
    }

    private static string FillPath(string template, World world) =>
        PathParameter().Replace(template, match =>
        {
            foreach (var (key, value) in world.Ids)
            {
                var at = template.IndexOf(key, StringComparison.Ordinal);
                if (at >= 0 && at + key.Length == match.Index + match.Length)
                {
                    return value;
                }
            }
            throw new Xunit.Sdk.XunitException($"no value for the path parameter {match.Value} of {template}: add it to the corpus world");
        });

    private Case Http(string name, string method, string pathAndQuery, string? token, string? body, string contentType = "application/json", bool chunked = false) =>
        new(name, async () =>
        {
            using var http = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
            using var request = new HttpRequestMessage(new HttpMethod(method), pathAndQuery);
            if (token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }
            if (body is not null)
            {
                var bytes = Encoding.UTF8.GetBytes(body);
                request.Content = chunked ? new StreamContent(new MemoryStream(bytes)) : new ByteArrayContent(bytes);
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
                request.Headers.TransferEncodingChunked = chunked;
            }
            using var response = await http.SendAsync(request);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        });

    /// <summary>As Kestrel would hand it on: the target as sent, the path decoded and normalised.</summary>
    private Case Raw(string name, string method, string rawTarget, string normalisedPath, string? token) =>
        new(name, async () =>
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
            using var reader = new StreamReader(context.Response.Body);
            return (context.Response.StatusCode, await reader.ReadToEndAsync());
        });

    private static IEnumerable<(string, string)> QueryMutations(JsonElement operation)
    {
        if (!operation.TryGetProperty("parameters", out var parameters))
        {
            yield break;
        }
        foreach (var parameter in parameters.EnumerateArray().Where(p => p.GetProperty("in").GetString() == "query"))
        {
            var name = parameter.GetProperty("name").GetString()!;
            var schema = parameter.GetProperty("schema");
            var types = Types(schema);
            var format = schema.TryGetProperty("format", out var f) ? f.GetString() : null;
            if (types.Contains("integer") || types.Contains("number"))
            {
                yield return ($"query {name}=1e400", $"?{name}=1e400");
                yield return ($"query {name}=99999999999999999999", $"?{name}=99999999999999999999");
                yield return ($"query {name}=abc", $"?{name}=abc");
                if (types.Contains("integer"))
                {
                    yield return ($"query {name}=1E2", $"?{name}=1E2");
                }
            }
            else if (format is "date-time" or "uuid")
            {
                yield return ($"query {name} not a {format}", $"?{name}=not-a-{format}");
            }
        }
    }

    // ---- bodies built from the schema, and their mutations ----

    private static JsonNode? SampleBody(JsonElement operation, JsonElement document)
    {
        if (!operation.TryGetProperty("requestBody", out var body)
            || !body.GetProperty("content").TryGetProperty("application/json", out var json))
        {
            return null;
        }
        return Sample(json.GetProperty("schema"), document, depth: 0) ?? new JsonObject();
    }

    private static JsonNode? Sample(JsonElement schema, JsonElement document, int depth)
    {
        if (depth > 6)
        {
            return null;
        }
        if (schema.TryGetProperty("$ref", out var reference))
        {
            var name = reference.GetString()!.Split('/')[^1];
            return Sample(document.GetProperty("components").GetProperty("schemas").GetProperty(name), document, depth + 1);
        }
        foreach (var combinator in new[] { "oneOf", "anyOf", "allOf" })
        {
            if (schema.TryGetProperty(combinator, out var options))
            {
                return options.EnumerateArray().Select(o => Sample(o, document, depth + 1)).FirstOrDefault(n => n is not null);
            }
        }
        var types = Types(schema);
        if (types is ["null"])
        {
            return null;
        }
        var format = schema.TryGetProperty("format", out var f) ? f.GetString() : null;
        if (types.Contains("object") || schema.TryGetProperty("properties", out _))
        {
            var node = new JsonObject();
            if (schema.TryGetProperty("properties", out var properties))
            {
                foreach (var property in properties.EnumerateObject())
                {
                    node[property.Name] = Sample(property.Value, document, depth + 1);
                }
            }
            return node;
        }
        if (types.Contains("array"))
        {
            var item = schema.TryGetProperty("items", out var items) ? Sample(items, document, depth + 1) : null;
            return item is null ? new JsonArray() : new JsonArray(item);
        }
        if (types.Contains("string"))
        {
            return format switch
            {
                "uuid" => JsonValue.Create(Guid.NewGuid().ToString()),
                "date-time" => JsonValue.Create(DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture)),
                "date" => JsonValue.Create(DateTimeOffset.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)),
                _ => JsonValue.Create("probe"),
            };
        }
        if (types.Contains("integer"))
        {
            return JsonValue.Create(1);
        }
        if (types.Contains("number"))
        {
            return JsonValue.Create(1.5);
        }
        if (types.Contains("boolean"))
        {
            return JsonValue.Create(true);
        }
        // No type: anything goes (a JsonElement member such as a deposit payload).
        return new JsonObject();
    }

    private static string[] Types(JsonElement schema) =>
        !schema.TryGetProperty("type", out var type) ? []
        : type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!).ToArray()
        : [type.GetString()!];

    private static string RepeatFirstKey(JsonNode sample)
    {
        var text = sample.ToJsonString();
        var first = sample is JsonObject { Count: > 0 } o ? o.First().Key : "probe";
        // {"a":…} → {"a":1,"a":…}: a different value first, the sample's value last (what last-wins would take).
        return sample is JsonObject { Count: > 0 } ? "{\"" + first + "\":1," + text[1..] : "{\"probe\":1,\"probe\":2}";
    }

    /// <summary>At each leaf of the sample: a value of the wrong type, and huge numbers at numeric leaves.</summary>
    private static IEnumerable<(string, string)> Mutations(JsonNode sample)
    {
        var leaves = new List<string>();
        Leaves(sample, "$", leaves);
        if (leaves.Count == 0)
        {
            yield return ("huge number at the root member", "{\"probe\":1e400}");
            yield break;
        }
        foreach (var path in leaves)
        {
            var original = Find(sample, path)!;
            var kind = original.GetValueKind();
            JsonNode wrong = kind switch
            {
                JsonValueKind.String => JsonValue.Create(12345),
                JsonValueKind.Number => JsonValue.Create("12345"),
                JsonValueKind.True or JsonValueKind.False => JsonValue.Create("yes"),
                JsonValueKind.Array => new JsonObject { ["probe"] = 1 },
                _ => new JsonArray(1),
            };
            yield return ($"wrong type at {path}", Replace(sample, path, wrong.ToJsonString()));
            yield return ($"1e400 at {path}", Replace(sample, path, "1e400"));
            yield return ($"99999999999999999999 at {path}", Replace(sample, path, "99999999999999999999"));
        }
    }

    private static void Leaves(JsonNode? node, string path, List<string> leaves)
    {
        switch (node)
        {
            case JsonObject o when o.Count > 0:
                foreach (var (key, value) in o)
                {
                    Leaves(value, $"{path}.{key}", leaves);
                }
                break;
            case JsonArray a when a.Count > 0:
                Leaves(a[0], $"{path}[0]", leaves);
                break;
            case null:
                break;
            default:
                leaves.Add(path);
                break;
        }
    }

    private static JsonNode? Find(JsonNode root, string path)
    {
        JsonNode? node = root;
        foreach (Match step in PathStep().Matches(path))
        {
            node = step.Groups["key"].Success ? node![step.Groups["key"].Value] : node![0];
        }
        return node;
    }

    /// <summary>The sample's text with the value at <paramref name="path"/> written as <paramref name="raw"/> (which may be no valid .NET value, like 1e400).</summary>
    private static string Replace(JsonNode sample, string path, string raw)
    {
        const string Marker = "\u0001corpus-marker\u0001";
        var copy = sample.DeepClone();
        var steps = PathStep().Matches(path).ToList();
        if (steps.Count == 0)
        {
            return raw;
        }
        var parent = steps.Count == 1 ? copy : Find(copy, string.Concat(steps.Take(steps.Count - 1).Select(s => s.Value)));
        var last = steps[^1];
        if (last.Groups["key"].Success)
        {
            parent![last.Groups["key"].Value] = Marker;
        }
        else
        {
            parent![0] = Marker;
        }
        return copy.ToJsonString().Replace(JsonSerializer.Serialize(Marker), raw, StringComparison.Ordinal);
    }

    // ---- state ----

    private async Task<List<string>> BusinessTablesAsync()
    {
        await using var connection = await factory.Connections.OpenAsync();
        var sql = factory.Provider switch
        {
            DatabaseProvider.Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            DatabaseProvider.Postgres => "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            _ => "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_TYPE = 'BASE TABLE'",
        };
        return (await connection.QueryAsync<string>(sql)).Where(t => !LogTables.Contains(t, StringComparer.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).ToList();
    }

    private async Task<Dictionary<string, long>> CountsAsync(List<string> tables)
    {
        await using var connection = await factory.Connections.OpenAsync();
        var quote = factory.Provider == DatabaseProvider.SqlServer ? ("[", "]") : ("\"", "\"");
        var sql = string.Join(" UNION ALL ", tables.Select(t => $"SELECT '{t}' AS name, COUNT(*) AS n FROM {quote.Item1}{t}{quote.Item2}"));
        return (await connection.QueryAsync<(string Name, long N)>(sql)).ToDictionary(r => r.Name, r => r.N);
    }

    /// <summary>What is wrong with a refusal's body as a problem: it must name a documented type and say in words what was wrong, without .NET internals.</summary>
    private static string? ProblemFault(string body)
    {
        if (body.Length == 0)
        {
            return null;  // HEAD-like answers and 405s from the framework's own pipeline carry no body to judge
        }
        JsonElement problem;
        try
        {
            problem = JsonDocument.Parse(body).RootElement.Clone();
        }
        catch (JsonException)
        {
            return "not a JSON problem";
        }
        if (problem.ValueKind != JsonValueKind.Object
            || !problem.TryGetProperty("type", out var type) || type.GetString()?.StartsWith("/problems/", StringComparison.Ordinal) != true)
        {
            return "no documented problem type";
        }
        if (!problem.TryGetProperty("detail", out var detail) || string.IsNullOrWhiteSpace(detail.GetString()))
        {
            return "no detail";
        }
        return Regex.IsMatch(body, @"System\.[A-Z][A-Za-z]+|Microsoft\.[A-Z][A-Za-z]+\.|InfoBank\.[A-Z]") ? "a .NET type name in the answer" : null;
    }

    private static string Shorten(string text) => text.Length > 300 ? text[..300] + "…" : text;

    [GeneratedRegex(@"\{[^}]+\}")]
    private static partial Regex PathParameter();

    [GeneratedRegex(@":[^}]+\}|\?\}")]
    private static partial Regex RouteConstraint();

    [GeneratedRegex(@"\.(?<key>[^.\[]+)|\[0\]")]
    private static partial Regex PathStep();
}
