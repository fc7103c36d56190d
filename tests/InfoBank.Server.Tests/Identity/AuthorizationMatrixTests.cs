using System.Net;
using System.Text;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Identity;

public sealed class AuthorizationMatrixTests(AuthorizationMatrixTests.Factory factory) : IClassFixture<AuthorizationMatrixTests.Factory>
{
    /// <summary>The server with one probe route per policy, and one token per kind of caller.</summary>
    public sealed class Factory : InfoBankFactory
    {
        private readonly SemaphoreSlim _lock = new(1, 1);
        private readonly Dictionary<Caller, string> _tokens = [];

        protected override IEnumerable<IApiModule> ExtraModules => [new PolicyProbes()];

        public async Task<string?> TokenAsync(Caller caller)
        {
            if (caller == Caller.None)
            {
                return null;
            }
            await _lock.WaitAsync();
            try
            {
                if (!_tokens.TryGetValue(caller, out var token))
                {
                    token = caller switch
                    {
                        Caller.Resident => (await this.SignInAsync(AccountKind.Resident)).AccessToken,
                        Caller.Committee => (await this.SignInAsync(AccountKind.Committee, CommitteeRoles.Chair)).AccessToken,
                        Caller.Auditor => (await this.SignInAsync(AccountKind.Auditor)).AccessToken,
                        Caller.Operator => (await this.SignInAsync(AccountKind.Operator)).AccessToken,
                        Caller.Business => (await this.ClientTokenAsync(ClientKind.Business)).AccessToken,
                        Caller.Source => (await this.ClientTokenAsync(ClientKind.DataSource)).AccessToken,
                        _ => throw new ArgumentOutOfRangeException(nameof(caller)),
                    };
                    _tokens[caller] = token;
                }
                return token;
            }
            finally
            {
                _lock.Release();
            }
        }
    }

    private sealed class PolicyProbes : IApiModule
    {
        public void MapEndpoints(IEndpointRouteBuilder routes)
        {
            foreach (var policy in new[] { AuthPolicies.Resident, AuthPolicies.Committee, AuthPolicies.Auditor, AuthPolicies.Operator })
            {
                // Person routes can read the account id: the policy guarantees it is there.
                routes.MapGet("/test/policy/" + policy, (System.Security.Claims.ClaimsPrincipal user) => TypedResults.Ok(user.AccountId()))
                    .RequireAuthorization(policy);
            }
            foreach (var policy in new[] { AuthPolicies.Business, AuthPolicies.DataSource })
            {
                routes.MapGet("/test/policy/" + policy, (System.Security.Claims.ClaimsPrincipal user) => TypedResults.Ok(user.ClientId()))
                    .RequireAuthorization(policy);
            }
            // Names no policy: the fallback (any valid token) applies.
            routes.MapGet("/test/policy/none", () => TypedResults.Ok());
        }
    }

    /// <summary>
    /// The matrix is checked against what the server maps: each method + pattern of every route
    /// endpoint needs a row whose method and path it would route (constraints included), so a new
    /// route cannot ship without its authorization being tried for every kind of caller.
    /// </summary>
    [Fact]
    public void Every_mapped_route_has_a_row()
    {
        var endpoints = factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();
        var policies = factory.Services.GetRequiredService<ParameterPolicyFactory>();
        Assert.Contains(endpoints, e => e.RoutePattern.RawText == "/api/v1/records/");

        var missing = new List<string>();
        foreach (var endpoint in endpoints)
        {
            var pattern = endpoint.RoutePattern;
            var matcher = new TemplateMatcher(new RouteTemplate(pattern), new RouteValueDictionary(pattern.Defaults));
            bool Routes(MatrixRoute row)
            {
                var values = new RouteValueDictionary();
                if (!matcher.TryMatch(row.Path.Split('?')[0], values))
                {
                    return false;
                }
                return pattern.ParameterPolicies.All(parameter => parameter.Value.All(reference =>
                    policies.Create(pattern.GetParameter(parameter.Key), reference) is not IRouteConstraint constraint
                    || constraint.Match(null, null, parameter.Key, values, RouteDirection.IncomingRequest)));
            }
            // An endpoint without method metadata (health checks, pages, the dashboard) takes any method.
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods is { Count: > 0 } listed ? listed.ToArray<string?>() : [null];
            foreach (var method in methods)
            {
                if (!AuthorizationMatrix.Routes.Any(row => (method is null || row.Method == method) && Routes(row)))
                {
                    missing.Add($"{method ?? "(any method)"} {pattern.RawText}");
                }
            }
        }
        Assert.True(missing.Count == 0,
            $"Mapped routes without a row in tests/InfoBank.Server.Tests/Infrastructure/AuthorizationMatrix.cs: {string.Join("; ", missing)}");
    }

    public static TheoryData<int, Caller> Cases()
    {
        var data = new TheoryData<int, Caller>();
        for (var i = 0; i < AuthorizationMatrix.Routes.Count; i++)
        {
            foreach (var caller in Enum.GetValues<Caller>())
            {
                data.Add(i, caller);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Route_answers_each_kind_of_caller(int row, Caller caller)
    {
        var route = AuthorizationMatrix.Routes[row];
        var token = await factory.TokenAsync(caller);
        using var http = token is null
            ? factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false })
            : factory.CreateClientWithToken(token);
        using var request = new HttpRequestMessage(new HttpMethod(route.Method), route.Path);
        if (route.JsonBody is not null)
        {
            request.Content = new StringContent(route.JsonBody, Encoding.UTF8, "application/json");
        }

        var response = await http.SendAsync(request);

        var expected = route.Allowed.Contains(caller) ? route.Success
            : caller == Caller.None ? HttpStatusCode.Unauthorized
            : HttpStatusCode.Forbidden;
        Assert.True(expected == response.StatusCode,
            $"{route} as {caller}: expected {(int)expected}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
    }
}
