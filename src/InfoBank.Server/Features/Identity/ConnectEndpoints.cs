using System.Security.Claims;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Infrastructure;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace InfoBank.Server.Features.Identity;

/// <summary>
/// The two OpenIddict endpoints whose outcome we decide (authorization and token); OpenIddict has
/// already validated the request (client, redirect URI, PKCE, code, grant permissions) before
/// these run. Discovery, JWKS, introspection and revocation are answered by OpenIddict itself.
/// </summary>
internal sealed class ConnectEndpoints : IApiModule
{
    public void MapEndpoints(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/connect/authorize", AuthorizeAsync).AllowAnonymous().ExcludeFromDescription();
        routes.MapPost("/connect/token", TokenAsync).AllowAnonymous().ExcludeFromDescription().DisableAntiforgery()
            .RequireRateLimiting(CredentialRateLimits.TokenPolicy);
    }

    private static async Task<IResult> AuthorizeAsync(HttpContext context, AccountService accounts, CancellationToken cancellationToken)
    {
        var request = context.GetOpenIddictServerRequest()
            ?? throw new InvalidOperationException("OpenIddict did not attach the authorization request.");

        var cookie = await context.AuthenticateAsync(IdentitySetup.SignInScheme);
        var account = cookie.Succeeded && Guid.TryParse(cookie.Principal.GetClaim(Claims.Subject), out var id)
            ? await accounts.FindActiveAsync(id, cancellationToken)
            : null;
        if (account is null)
        {
            if (request.HasPromptValue(PromptValues.None))
            {
                return Refuse(Errors.LoginRequired, "The user is not signed in.");
            }
            // Back here after the sign-in page, with the same query string.
            return Results.Challenge(
                new AuthenticationProperties { RedirectUri = context.Request.PathBase + context.Request.Path + context.Request.QueryString },
                [IdentitySetup.SignInScheme]);
        }

        var personScope = account.Kind.Scope();
        var requested = request.GetScopes();
        var otherRoleScopes = requested.Where(s => s != personScope && IsRoleScope(s)).ToList();
        if (otherRoleScopes.Count > 0)
        {
            return Refuse(Errors.AccessDenied, $"This account cannot be granted the scope '{otherRoleScopes[0]}'.");
        }
        // The account's own scope is always granted: it is what the account is for.
        var granted = requested.Where(s => s is Scopes.OpenId or Scopes.OfflineAccess).Append(personScope).ToList();
        var identity = IdentityClaims.ForPerson(account, granted);
        return Results.SignIn(new ClaimsPrincipal(identity), authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    private static async Task<IResult> TokenAsync(
        HttpContext context,
        AccountService accounts,
        ClientRegistry clients,
        IOpenIddictApplicationManager applications,
        IOptions<IdentitySettings> settings,
        IAuditLog audit,
        CancellationToken cancellationToken)
    {
        var request = context.GetOpenIddictServerRequest()
            ?? throw new InvalidOperationException("OpenIddict did not attach the token request.");

        if (request.IsClientCredentialsGrantType())
        {
            var application = await applications.FindByClientIdAsync(request.ClientId!, cancellationToken);
            if (application is null || await clients.KindOfAsync(application, cancellationToken) is not { } kind)
            {
                return Refuse(Errors.UnauthorizedClient, "This client may not use the client credentials grant.");
            }
            var scope = kind.Scope();
            if (request.GetScopes().Any(s => s != scope))
            {
                return Refuse(Errors.InvalidScope, $"This client may only be granted the scope '{scope}'.");
            }
            var name = await applications.GetDisplayNameAsync(application, cancellationToken) ?? request.ClientId!;
            var principal = new ClaimsPrincipal(IdentityClaims.ForClient(request.ClientId!, name, scope));
            principal.SetAccessTokenLifetime(settings.Value.MachineAccessTokenLifetime);
            await audit.AppendAsync(new AuditEntryDraft(AuditKinds.TokenIssued, $"client:{request.ClientId}",
                Payload: new { grant = GrantTypes.ClientCredentials, scopes = new[] { scope } }), cancellationToken);
            return Results.SignIn(principal, authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        }

        if (request.IsAuthorizationCodeGrantType() || request.IsRefreshTokenGrantType())
        {
            // The principal stored in the code or refresh token; rebuilt from the account so that a
            // locked or deleted account stops getting tokens, and a changed role takes effect.
            var stored = await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
            var account = stored.Succeeded && Guid.TryParse(stored.Principal.GetClaim(Claims.Subject), out var id)
                ? await accounts.FindActiveAsync(id, cancellationToken)
                : null;
            if (account is null)
            {
                return Refuse(Errors.InvalidGrant, "The account may no longer sign in.");
            }
            var scopes = stored.Principal!.GetScopes().Where(s => s is Scopes.OpenId or Scopes.OfflineAccess || s == account.Kind.Scope()).ToList();
            var identity = IdentityClaims.ForPerson(account, scopes);
            await audit.AppendAsync(new AuditEntryDraft(AuditKinds.TokenIssued, AccountService.ActorOf(account), SubjectRef: AccountService.SubjectOf(account),
                Payload: new { grant = request.GrantType, client = request.ClientId, scopes }), cancellationToken);
            return Results.SignIn(new ClaimsPrincipal(identity), authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        }

        return Refuse(Errors.UnsupportedGrantType, "The grant type is not supported.");
    }

    private static bool IsRoleScope(string scope) =>
        AccountKinds.PersonScopes.Contains(scope) || scope is Infrastructure.Auth.AuthPolicies.Business or Infrastructure.Auth.AuthPolicies.DataSource;

    private static IResult Refuse(string error, string description) => Results.Forbid(
        new AuthenticationProperties(new Dictionary<string, string?>
        {
            [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
            [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
        }),
        [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
}
