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
                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, _) =>
            {
                Secure(operation, context);
                AddProblems(operation, context);
                return Task.CompletedTask;
            });
        });

    private static void Describe(OpenApiDocument document)
    {
        document.Info.Title = "InfoBank API";
        document.Info.Description =
            "An information bank and consent ledger: residents deposit lifestyle data, encrypted per resident; businesses apply to use it; " +
            "the ethics committee decides; residents opt in per offer and can withdraw at any time; every access is in a signed audit log. " +
            "Errors are RFC 9457 problem details whose `type` is documented at `/problems`.";
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
            Description = "OAuth 2.0 access tokens from this server (`Authorization: Bearer …` only; a token in the URL or a form body is refused).",
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
        var problems = new List<ProblemType>();
        if (hasInput)
        {
            problems.Add(hasBody ? ProblemTypes.MalformedRequest : ProblemTypes.InvalidParameter);
        }
        if (!IsAnonymous(context))
        {
            problems.Add(ProblemTypes.Unauthenticated);
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
        foreach (var group in problems.GroupBy(p => p.Status))
        {
            var key = group.Key.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var types = string.Join(", ", group.Select(p => $"`{p.Uri}`"));
            if (operation.Responses.TryGetValue(key, out var existing))
            {
                if (existing is OpenApiResponse response && (response.Content is null || response.Content.Count == 0))
                {
                    response.Content = ProblemContent(context.Document);
                    response.Description = $"{response.Description} Problem type {types} (or one named in the detail).".Trim();
                }
                continue;
            }
            operation.Responses[key] = new OpenApiResponse
            {
                Description = $"{group.First().Title}: problem type {types}.",
                Content = ProblemContent(context.Document),
            };
        }
    }

    private static Dictionary<string, OpenApiMediaType> ProblemContent(OpenApiDocument? document) => new()
    {
        ["application/problem+json"] = new OpenApiMediaType { Schema = new OpenApiSchemaReference(ProblemSchema, document) },
    };
}
