using System.Text.Json.Nodes;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Infrastructure.Errors;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace InfoBank.Server.Infrastructure.Web;

/// <summary>
/// What the generated OpenAPI document cannot know by itself, added in one place: the OAuth 2.0
/// scheme and each operation's scope (from the route's authorization policy, whose name is its
/// scope; anonymous routes say so), the problem answers every operation can give with their
/// problem types, tag descriptions, and the document's own information.
/// </summary>
public static class OpenApiSetup
{
    public const string SchemeName = "oauth2";

    /// <summary>The same tokens pasted as they are (from the CLI or a client), for /reference and tools without an OAuth flow.</summary>
    public const string BearerSchemeName = "bearer";

    private const string ProblemSchema = "Problem";

    /// <summary>Scopes a person gets through the authorization-code flow (with PKCE).</summary>
    private static readonly Dictionary<string, string> PersonScopes = new()
    {
        [AuthPolicies.Resident] = "A resident: their own data, consents, passbook and erasure.",
        [AuthPolicies.Committee] = "An ethics-committee member: applications, votes, grants, the access log.",
        [AuthPolicies.Auditor] = "An auditor: the audit trail, read-only.",
        [AuthPolicies.Operator] = "An operator of the service: accounts and clients.",
        ["openid"] = "OpenID Connect sign-in.",
        ["offline_access"] = "A refresh token.",
        ["profile"] = "The display name in userinfo.",
    };

    /// <summary>Scopes a registered machine client gets with its own credentials.</summary>
    private static readonly Dictionary<string, string> MachineScopes = new()
    {
        [AuthPolicies.Business] = "A business: its applications and the data of its approved grants.",
        [AuthPolicies.DataSource] = "A data source: deposits for residents who linked it.",
    };

    /// <summary>
    /// How to get, use and end a token, from this document alone: the /connect endpoints are
    /// OpenIddict's (RFC 6749 form posts answered with RFC 6749 errors, not problem details), so they
    /// are described here rather than as operations.
    /// </summary>
    private const string GettingATokenText = """
        ## Getting a token

        Discovery: `GET /.well-known/openid-configuration` (OpenID Connect Discovery) lists every endpoint below; the signing keys are at `GET /api/v1/keys`.
        The token, revocation and introspection endpoints take an `application/x-www-form-urlencoded` POST and answer JSON; their errors are RFC 6749 `{"error", "error_description"}` objects, not problem details.

        **Businesses and data sources** (confidential clients an operator registered with `infobank admin add-client`, which prints the secret once):
        `POST /connect/token` with `grant_type=client_credentials` and `scope=business` (a business) or `scope=deposit` (a data source),
        authenticating with the client id and secret as HTTP Basic (`client_secret_basic`) or as `client_id` and `client_secret` in the form.
        The answer: `{"access_token", "token_type": "Bearer", "expires_in", "scope"}`. No refresh token: ask again when it expires (10 minutes by default).

        **People** (residents, committee members, auditors, operators) sign in through a registered public app with the authorization-code flow and PKCE:
        1. Send the browser to `GET /connect/authorize?response_type=code&client_id=…&redirect_uri=…&scope=openid offline_access resident&state=…&code_challenge=…&code_challenge_method=S256`
           (`resident`, `committee`, `audit` or `operator`: the account's kind decides which it gets). The person signs in at `/signin`; the browser comes back to `redirect_uri` with `code` and `state`.
        2. `POST /connect/token` with `grant_type=authorization_code`, `code`, `redirect_uri`, `client_id` and `code_verifier`.
           The answer adds, with `openid`, an `id_token` and, with `offline_access`, a `refresh_token`. Access tokens last 15 minutes by default.
        3. Refresh with `POST /connect/token`, `grant_type=refresh_token`, `refresh_token`, `client_id`. Refresh tokens roll: each works once, and replaying a used one revokes the chain.
        An operation that needs a recent sign-in (erasure) answers `401` with `reauthentication-required` and a `max_age`: repeat step 1 with `max_age=…`.

        **Using and ending a token**: send it as `Authorization: Bearer …` (never in a URL or body); each operation names the scope it needs.
        `POST /connect/revoke` (`token`, `token_type_hint`) revokes it, `POST /connect/introspect` (confidential clients, `token`) says whether it is active;
        a client may revoke or introspect only the tokens issued to it. `GET /connect/userinfo` gives a person's claims; `GET /connect/endsession` signs the person out (RP-initiated logout).
        """;

    private static readonly Dictionary<string, string> Tags = new()
    {
        ["Custody"] = "Enrolment under the custody terms, linked data sources, deposits, the resident's own records, export and erasure.",
        ["Offers"] = "Uses of data the ethics committee approved, each with the notice residents read before they opt in.",
        ["Consent"] = "A resident's consents: given, withdrawn, and their signed receipts.",
        ["Applications"] = "A business applies to use data for a stated purpose; the PIA and the committee's policies run on each version.",
        ["Committee"] = "The data ethics committee: reviews, votes, decisions and grants.",
        ["Access"] = "What approved businesses receive, the residents' passbook and the committee's access log.",
        ["Audit"] = "The tamper-evident audit trail: entries, signed checkpoints, proofs and the offline bundle.",
        ["Admin"] = "Operators: accounts and registered clients.",
        ["Keys"] = "The service's public keys (JWKS): for access tokens, consent receipts and audit checkpoints.",
        ["Problems"] = "Every problem type an error answer can carry.",
    };

    public static IServiceCollection AddInfoBankOpenApi(this IServiceCollection services) =>
        services.AddOpenApi("v1", options =>
        {
            options.AddDocumentTransformer((document, _, _) =>
            {
                Describe(document);
                DescribeMembers(document);
                return Task.CompletedTask;
            });
            options.AddSchemaTransformer((schema, context, _) =>
            {
                StringEnum(schema, context.JsonTypeInfo.Type);
                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, _) =>
            {
                Secure(operation, context);
                AddProblems(operation, context);
                AddRequestExample(operation, context);
                return Task.CompletedTask;
            });
        });

    private static void Describe(OpenApiDocument document)
    {
        document.Info.Title = "InfoBank API";
        document.Info.Description =
            "An information bank and consent ledger: residents deposit lifestyle data, encrypted per resident; businesses apply to use it; " +
            "the ethics committee decides; residents opt in per offer and can withdraw at any time; every access is in a signed audit log. " +
            "Errors are RFC 9457 problem details whose `type` is documented at `/problems`; each operation lists, per status, the types it answers with.\n\n" +
            GettingATokenText;
        document.Info.License = new OpenApiLicense { Name = "Proprietary: operated by the city" };
        // A server URL ending in "/" doubles the slash in every path a client joins to it.
        foreach (var server in document.Servers ?? [])
        {
            server.Url = server.Url?.TrimEnd('/');
        }
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[SchemeName] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.OAuth2,
            Description = "OAuth 2.0 access tokens from this server (`Authorization: Bearer …` only; a token in the URL or a form body is refused). " +
                "People: the authorization-code flow with PKCE (S256 only) through a registered app; machines: client credentials with the client's secret. " +
                "The token endpoint also refreshes (`grant_type=refresh_token`, rolling: each refresh token works once). See the document's description for every parameter and the other endpoints.",
            Flows = new OpenApiOAuthFlows
            {
                AuthorizationCode = new OpenApiOAuthFlow
                {
                    AuthorizationUrl = new Uri("/connect/authorize", UriKind.Relative),
                    TokenUrl = new Uri("/connect/token", UriKind.Relative),
                    RefreshUrl = new Uri("/connect/token", UriKind.Relative),
                    Scopes = PersonScopes,
                },
                ClientCredentials = new OpenApiOAuthFlow
                {
                    TokenUrl = new Uri("/connect/token", UriKind.Relative),
                    Scopes = MachineScopes,
                },
            },
        };
        document.Components.SecuritySchemes[BearerSchemeName] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "An access token from /connect/token, pasted as it is. The operation's scope (see oauth2) still applies.",
        };
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        document.Components.Schemas[ProblemSchema] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "RFC 9457 problem details. `type` is a stable `/problems/{slug}` reference a client can match on.",
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The problem type, e.g. `/problems/not-enrolled`." },
                ["title"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
                ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "What went wrong in this request, always present." },
                ["traceId"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["errors"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Description = "Validation problems: messages keyed by JSON path or parameter name.",
                    AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
                },
            },
            Required = new HashSet<string> { "type", "title", "status", "detail" },
        };
        document.Tags ??= new HashSet<OpenApiTag>();
        foreach (var (name, description) in Tags)
        {
            if (document.Tags.FirstOrDefault(t => t.Name == name) is { } tag)
            {
                tag.Description = description;
            }
            else
            {
                document.Tags.Add(new OpenApiTag { Name = name, Description = description });
            }
        }
    }

    private static IList<object> Metadata(OpenApiOperationTransformerContext context) => context.Description.ActionDescriptor.EndpointMetadata;

    private static bool IsAnonymous(OpenApiOperationTransformerContext context) => Metadata(context).OfType<IAllowAnonymous>().Any();

    /// <summary>The scope the route requires (policy name = scope), or null for an anonymous route.</summary>
    private static string? ScopeOf(OpenApiOperationTransformerContext context) =>
        IsAnonymous(context) ? null : Metadata(context).OfType<IAuthorizeData>().Select(a => a.Policy).LastOrDefault(p => p is not null);

    private static void Secure(OpenApiOperation operation, OpenApiOperationTransformerContext context)
    {
        if (IsAnonymous(context))
        {
            // An empty requirement says "no authentication" explicitly, which a missing one does not.
            operation.Security = [];
            return;
        }
        var scope = ScopeOf(context);
        // Either requirement suffices: an OAuth token with the scope, or the same token pasted as a bearer.
        operation.Security =
        [
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, context.Document)] = scope is null ? [] : [scope] },
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerSchemeName, context.Document)] = [] },
        ];
    }

    private static void AddProblems(OpenApiOperation operation, OpenApiOperationTransformerContext context)
    {
        operation.Responses ??= new OpenApiResponses();
        var description = context.Description;
        var hasBody = description.ParameterDescriptions.Any(p => p.Source.Id is "Body" or "Form") || description.SupportedRequestFormats.Count > 0;
        var hasInput = hasBody || description.ParameterDescriptions.Any(p => p.Source.Id is "Query" or "Path");
        var hasPathId = description.ParameterDescriptions.Any(p => p.Source.Id == "Path");
        // The endpoint's own refusals first (the ones a client most needs to tell apart), then the generic ones.
        var problems = Metadata(context).OfType<ProblemsMetadata>().SelectMany(m => m.Types).ToList();
        if (hasInput)
        {
            problems.Add(hasBody ? ProblemTypes.MalformedRequest : ProblemTypes.InvalidParameter);
        }
        if (!IsAnonymous(context))
        {
            problems.Add(ProblemTypes.Unauthenticated);
            problems.Add(ProblemTypes.AccountErased);
            problems.Add(ProblemTypes.Forbidden);
        }
        if (hasPathId)
        {
            problems.Add(ProblemTypes.NotFound);
        }
        if (hasBody)
        {
            problems.Add(ProblemTypes.BodyTooLarge);
            problems.Add(ProblemTypes.UnsupportedMediaType);
        }
        problems.Add(ProblemTypes.RateLimited);
        problems.Add(ProblemTypes.StorageUnavailable);
        foreach (var group in problems.DistinctBy(p => p.Slug).GroupBy(p => p.Status).OrderBy(g => g.Key))
        {
            var key = group.Key.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var listed = ProblemList(group);
            if (operation.Responses.TryGetValue(key, out var existing))
            {
                if (existing is OpenApiResponse response && (response.Content is null || response.Content.Count == 0))
                {
                    response.Content = ProblemContent(context.Document);
                    response.Description = $"{response.Description} {listed}".Trim();
                    response.Extensions = ProblemTypesExtension(group);
                }
                continue;
            }
            operation.Responses[key] = new OpenApiResponse
            {
                Description = listed,
                Content = ProblemContent(context.Document),
                Extensions = ProblemTypesExtension(group),
            };
        }
    }

    /// <summary>The types of one status in words: each URI a client matches on, with its title (GET /problems/{slug} has the rest).</summary>
    private static string ProblemList(IEnumerable<ProblemType> types)
    {
        var listed = types.Select(p => $"`{p.Uri}` ({p.Title})").ToList();
        return listed.Count == 1 ? $"Problem type {listed[0]}." : $"One of the problem types {string.Join(", ", listed)}.";
    }

    /// <summary>The same types as data (<c>x-problem-types</c>), for generators and tests that should not parse the description.</summary>
    private static Dictionary<string, IOpenApiExtension> ProblemTypesExtension(IEnumerable<ProblemType> types) => new()
    {
        ["x-problem-types"] = new JsonNodeExtension(new JsonArray([.. types.Select(p => (JsonNode)JsonValue.Create(p.Uri))])),
    };

    private static void AddRequestExample(OpenApiOperation operation, OpenApiOperationTransformerContext context)
    {
        var body = context.Description.ParameterDescriptions.FirstOrDefault(p => p.Source.Id == "Body");
        if (body is null || operation.RequestBody?.Content is not { } content || !content.TryGetValue("application/json", out var media)
            || OpenApiBodies.ExampleOf(body.Type) is not { } example)
        {
            return;
        }
        media.Example = example;
    }

    // The API writes enums as their names (JsonOptions); the schema says they are strings, as they are.
    private static void StringEnum(OpenApiSchema schema, Type type)
    {
        if (type.IsEnum && schema.Enum is { Count: > 0 })
        {
            schema.Type = JsonSchemaType.String;
        }
    }

    /// <summary>
    /// On the finished components, so a member whose type is a schema of its own (a <c>$ref</c>)
    /// keeps its description beside the reference; schemas are named after their types.
    /// </summary>
    private static void DescribeMembers(OpenApiDocument document)
    {
        foreach (var (type, members) in OpenApiBodies.Descriptions)
        {
            if (document.Components?.Schemas?.TryGetValue(type.Name, out var found) != true || found is not OpenApiSchema schema)
            {
                throw new InvalidOperationException($"The OpenAPI document has no schema {type.Name} to describe.");
            }
            DescribeMembers(schema, type, members);
        }
    }

    private static void DescribeMembers(OpenApiSchema schema, Type type, IReadOnlyDictionary<string, string> members)
    {
        foreach (var (name, description) in members)
        {
            if (name == OpenApiBodies.SchemaItself)
            {
                schema.Description = description;
                continue;
            }
            switch (schema.Properties is not null && schema.Properties.TryGetValue(name, out var member) ? member : null)
            {
                case OpenApiSchema property:
                    property.Description = description;
                    break;
                case OpenApiSchemaReference reference:
                    reference.Description = description;
                    break;
                default:
                    throw new InvalidOperationException($"{type.Name} has no member '{name}' to describe in the OpenAPI document.");
            }
        }
    }

    private static Dictionary<string, OpenApiMediaType> ProblemContent(OpenApiDocument? document) => new()
    {
        ["application/problem+json"] = new OpenApiMediaType { Schema = new OpenApiSchemaReference(ProblemSchema, document) },
    };
}
