using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Infrastructure.Demo;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using OpenIddict.Validation;
using OpenIddict.Validation.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace InfoBank.Server.Features.Identity;

public static class IdentitySetup
{
    /// <summary>The cookie that carries a person from the sign-in page to the authorization endpoint.</summary>
    public const string SignInScheme = "InfoBank.SignIn";

    /// <summary>The scheme every API route authenticates with: OpenIddict's local token validation.</summary>
    public const string BearerScheme = OpenIddictValidationAspNetCoreDefaults.AuthenticationScheme;

    /// <summary>The jobs dashboard: an operator's bearer token, or an operator's sign-in cookie from a browser.</summary>
    public const string JobsDashboardPolicy = "jobs-dashboard";

    /// <summary>Accounts, clients and OpenIddict's stores: what the CLI needs as much as the server.</summary>
    public static IServiceCollection AddInfoBankIdentityStores(this IServiceCollection services)
    {
        services.AddOptions<IdentitySettings>().BindConfiguration(IdentitySettings.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddDbContext<IdentityDbContext>((provider, options) =>
        {
            var db = provider.GetRequiredService<DbConnectionFactory>();
            IdentityDbContext.Configure(options, db.Provider, db.ConnectionString);
        });
        services.AddOpenIddict().AddCore(options => options.UseEntityFrameworkCore().UseDbContext<IdentityDbContext>());
        services.AddSingleton<AccountStore>();
        services.AddSingleton<AccountService>();
        services.AddScoped<ClientRegistry>();
        services.AddScoped<IClientDirectory>(provider => provider.GetRequiredService<ClientRegistry>());
        return services;
    }

    /// <summary>The token server, token validation, the sign-in page and the authorization policies.</summary>
    public static IServiceCollection AddIdentityFeature(this IServiceCollection services)
    {
        services.AddInfoBankIdentityStores();

        AddTokenServer(services);
        services.AddSingleton<IValidateOptions<IdentitySettings>, IssuerIsPinned>();
        services.AddLogFloors();

        ConfigureTokenServer(services);
        AddSignInCookie(services);
        services.AddAuthorization(AddPolicies);
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, AuthorizationFailureRecorder>();
        services.AddRazorPages(options => options.Conventions.AddPageApplicationModelConvention("/SignIn",
            page => page.EndpointMetadata.Add(new EnableRateLimitingAttribute(CredentialRateLimits.SignInPolicy))));
        services.AddCredentialRateLimits();
        services.AddSingleton<InfoBank.Server.Features.Custody.IResidentErasureStep, IdentityErasureStep>();
        services.AddSingleton<IDemoSeedPart, IdentityDemoSeed>();
        return services;
    }

    // OpenIddict: the endpoints and flows it serves, and how resource requests validate its tokens.
    private static void AddTokenServer(IServiceCollection services)
    {
        services.AddOpenIddict()
            .AddServer(options =>
            {
                options.SetAuthorizationEndpointUris(Relative(ConnectEndpoints.AuthorizePath))
                    .SetTokenEndpointUris(Relative(ConnectEndpoints.TokenPath))
                    .SetIntrospectionEndpointUris(Relative(ConnectEndpoints.IntrospectionPath))
                    .SetRevocationEndpointUris(Relative(ConnectEndpoints.RevocationPath))
                    .SetUserInfoEndpointUris(Relative(ConnectEndpoints.UserInfoPath))
                    .SetEndSessionEndpointUris(Relative(ConnectEndpoints.EndSessionPath));
                options.AllowClientCredentialsFlow()
                    .AllowAuthorizationCodeFlow()
                    .AllowRefreshTokenFlow()
                    .RequireProofKeyForCodeExchange();
                options.RegisterScopes([Scopes.OpenId, Scopes.OfflineAccess, Scopes.Profile, .. AccountKinds.PersonScopes, AuthPolicies.Business, AuthPolicies.DataSource]);
                options.UseAspNetCore()
                    .EnableAuthorizationEndpointPassthrough()
                    .EnableTokenEndpointPassthrough()
                    .EnableUserInfoEndpointPassthrough()
                    .EnableEndSessionEndpointPassthrough();
                options.AddEventHandler(FailureRecorder.TokenDescriptor)
                    .AddEventHandler(FailureRecorder.AuthorizationDescriptor)
                    .AddEventHandler(FailureRecorder.IntrospectionDescriptor)
                    .AddEventHandler(FailureRecorder.RevocationDescriptor)
                    .AddEventHandler(TokenBinding.IntrospectionDescriptor)
                    .AddEventHandler(TokenBinding.RevocationDescriptor)
                    .AddEventHandler(TokenBinding.IntrospectionMethodDescriptor)
                    .AddEventHandler(TokenBinding.UserInfoHeaderOnlyDescriptor)
                    .AddEventHandler(IssuerPinning.DiscoveryEndpointsDescriptor);
            })
            .AddValidation(options =>
            {
                options.UseLocalServer();
                // Only the Authorization header carries access tokens (RFC 6750 section 2.1): a token
                // in a URL or form ends up in logs, caches and Referer headers.
                options.UseAspNetCore()
                    .DisableAccessTokenExtractionFromQueryString()
                    .DisableAccessTokenExtractionFromBodyForm();
                // Look the token up on every request so that revocation takes effect at once.
                options.EnableTokenEntryValidation();
                options.EnableAuthorizationEntryValidation();
                options.AddEventHandler(GenuineTokenMarker.Descriptor);
            });
    }

    // Signing keys, issuer and token lifetimes, from the identity settings.
    private static void ConfigureTokenServer(IServiceCollection services)
    {
        services.AddSingleton<IConfigureOptions<OpenIddictServerOptions>, IdentityKeys>();
        services.AddOptions<OpenIddictServerOptions>().Configure<IOptions<IdentitySettings>>((options, settings) =>
        {
            var s = settings.Value;
            options.Issuer = s.Issuer;
            options.AccessTokenLifetime = s.PersonAccessTokenLifetime;
            options.IdentityTokenLifetime = s.PersonAccessTokenLifetime;
            options.RefreshTokenLifetime = s.RefreshTokenLifetime;
            options.AuthorizationCodeLifetime = s.AuthorizationCodeLifetime;
            // Rolling refresh tokens: each use returns a new one; replaying a used one revokes the chain.
            options.RefreshTokenReuseLeeway = TimeSpan.Zero;
            // S256 only: "plain" PKCE sends the verifier's equal over the front channel.
            options.CodeChallengeMethods.Remove(CodeChallengeMethods.Plain);
        });
        services.AddOptions<OpenIddictServerAspNetCoreOptions>().Configure<IOptions<IdentitySettings>>((options, settings) =>
            options.DisableTransportSecurityRequirement = settings.Value.AllowInsecureHttp);
    }

    // The sign-in cookie browsers carry between the sign-in page and the authorization endpoint.
    private static void AddSignInCookie(IServiceCollection services)
    {
        services.AddAuthentication(BearerScheme)
            .AddCookie(SignInScheme, options =>
            {
                options.Cookie.Name = "infobank.signin";
                options.Cookie.HttpOnly = true;
                options.Cookie.SameSite = SameSiteMode.Lax;
                options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                options.LoginPath = "/signin";
                options.SlidingExpiration = false;
                // Browsers are sent to the sign-in page; API callers get a plain 401/403 problem.
                options.Events.OnRedirectToLogin = context =>
                {
                    if (AcceptsHtml(context.Request) || context.Request.Path.StartsWithSegments("/connect"))
                    {
                        context.Response.Redirect(context.RedirectUri);
                    }
                    return Task.CompletedTask;
                };
                options.Events.OnRedirectToAccessDenied = context =>
                {
                    context.Response.StatusCode = StatusCodes.Status403Forbidden;
                    return Task.CompletedTask;
                };
            });
        services.AddOptions<CookieAuthenticationOptions>(SignInScheme).Configure<IOptions<IdentitySettings>>((options, settings) =>
            options.ExpireTimeSpan = settings.Value.SignInSessionLifetime);
    }

    private static string Relative(string path) => path.TrimStart('/');

    private static bool AcceptsHtml(HttpRequest request) =>
        request.Headers.Accept.Any(value => value?.Contains("text/html", StringComparison.OrdinalIgnoreCase) == true);

    private static void AddPolicies(AuthorizationOptions options)
    {
        // Deny by default: a route that names no policy still needs a valid token. Unmatched
        // requests (404) and wrong methods (405) pass so that they get their own problem answer.
        options.FallbackPolicy = new AuthorizationPolicyBuilder(BearerScheme)
            .RequireAssertion(context => IsUnroutedRequest(context.Resource) || context.User.Identity?.IsAuthenticated == true)
            .Build();

        options.AddPolicy(AuthPolicies.Resident, Person(AuthPolicies.Resident));
        options.AddPolicy(AuthPolicies.Auditor, Person(AuthPolicies.Auditor));
        options.AddPolicy(AuthPolicies.Operator, Person(AuthPolicies.Operator));
        options.AddPolicy(AuthPolicies.Committee, policy =>
        {
            Person(AuthPolicies.Committee)(policy);
            policy.RequireClaim(Claims.Role, AccountKinds.CommitteeRoleNames);
        });
        options.AddPolicy(AuthPolicies.Business, Machine(AuthPolicies.Business));
        options.AddPolicy(AuthPolicies.DataSource, Machine(AuthPolicies.DataSource));

        options.AddPolicy(JobsDashboardPolicy, policy => policy
            .AddAuthenticationSchemes(BearerScheme, SignInScheme)
            .RequireAuthenticatedUser()
            .RequireAssertion(context =>
                (context.User.HasScope(AuthPolicies.Operator) && HasPersonSubject(context.User))
                || context.User.HasClaim(IdentityClaims.Kind, AccountKind.Operator.ToText())));
    }

    private static Action<AuthorizationPolicyBuilder> Person(string scope) => policy => policy
        .AddAuthenticationSchemes(BearerScheme)
        .RequireAuthenticatedUser()
        .RequireAssertion(context => context.User.HasScope(scope) && HasPersonSubject(context.User));

    private static Action<AuthorizationPolicyBuilder> Machine(string scope) => policy => policy
        .AddAuthenticationSchemes(BearerScheme)
        .RequireAuthenticatedUser()
        .RequireAssertion(context => context.User.HasScope(scope) && !string.IsNullOrEmpty(context.User.GetClaim(Claims.ClientId)));

    private static bool HasPersonSubject(System.Security.Claims.ClaimsPrincipal user) =>
        Guid.TryParse(user.GetClaim(Claims.Subject), out _);

    private static bool IsUnroutedRequest(object? resource) =>
        resource is HttpContext http && (http.GetEndpoint() is not { } endpoint
            || (endpoint.DisplayName?.StartsWith("405 ", StringComparison.Ordinal) == true && endpoint.Metadata.Count == 0));
}
