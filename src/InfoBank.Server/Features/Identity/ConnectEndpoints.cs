using System.Security.Claims;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Infrastructure.Auth;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace InfoBank.Server.Features.Identity;

/// <summary>
/// The OpenIddict endpoints whose outcome we decide (authorization, token, userinfo, end session);
/// OpenIddict has already validated the request (client, redirect URI, PKCE, code, grant
/// permissions, access token, id_token_hint, post-logout redirect URI) before these run.
/// Discovery, JWKS, introspection and revocation are answered by OpenIddict itself.
/// </summary>
internal static partial class ConnectEndpoints
{
    public const string AuthorizePath = "/connect/authorize";
    public const string TokenPath = "/connect/token";
    public const string IntrospectionPath = "/connect/introspect";
    public const string RevocationPath = "/connect/revoke";
    public const string UserInfoPath = "/connect/userinfo";
    public const string EndSessionPath = "/connect/endsession";

    /// <summary>The sign-out page: asks for confirmation, and is where a logout without a post-logout URI ends.</summary>
    public const string SignOutPage = "/signout";

    // The authorization request parameters a return from the sign-in page carries; anything else a
    // caller put in the request (a posted password, say) is not copied into a URL.
    private static readonly string[] AuthorizationParameters =
    [
        Parameters.ClientId, Parameters.RedirectUri, Parameters.ResponseType, Parameters.ResponseMode, Parameters.Scope,
        Parameters.State, Parameters.Nonce, Parameters.CodeChallenge, Parameters.CodeChallengeMethod, Parameters.Prompt,
        Parameters.MaxAge, Parameters.LoginHint, Parameters.UiLocales, Parameters.AcrValues, Parameters.Display,
    ];

    public static void MapConnectEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapMethods(AuthorizePath, [HttpMethods.Get, HttpMethods.Post], AuthorizeAsync).AllowAnonymous().ExcludeFromDescription().DisableAntiforgery();
        routes.MapPost(TokenPath, TokenAsync).AllowAnonymous().ExcludeFromDescription().DisableAntiforgery()
            .RequireRateLimiting(CredentialRateLimits.TokenPolicy);
        // OpenIddict answers these two in the authentication middleware, before any endpoint runs;
        // the routes exist so that the per-address limit on client-secret checks, which runs before
        // authentication, covers them with the token endpoint's budget.
        routes.MapPost(IntrospectionPath, AnsweredByOpenIddict).AllowAnonymous().ExcludeFromDescription().DisableAntiforgery()
            .RequireRateLimiting(CredentialRateLimits.TokenPolicy);
        routes.MapPost(RevocationPath, AnsweredByOpenIddict).AllowAnonymous().ExcludeFromDescription().DisableAntiforgery()
            .RequireRateLimiting(CredentialRateLimits.TokenPolicy);
        routes.MapMethods(UserInfoPath, [HttpMethods.Get, HttpMethods.Post], UserInfoAsync).AllowAnonymous().ExcludeFromDescription().DisableAntiforgery();
        routes.MapMethods(EndSessionPath, [HttpMethods.Get, HttpMethods.Post], EndSessionAsync).AllowAnonymous().ExcludeFromDescription().DisableAntiforgery();
    }

    private static IResult AnsweredByOpenIddict() =>
        throw new InvalidOperationException("OpenIddict answers introspection and revocation requests before the endpoint runs.");

    private static async Task<IResult> AuthorizeAsync(HttpContext context, AccountService accounts, TimeProvider time, CancellationToken cancellationToken)
    {
        var request = context.GetOpenIddictServerRequest()
            ?? throw new InvalidOperationException("OpenIddict did not attach the authorization request.");

        var cookie = await context.AuthenticateAsync(IdentitySetup.SignInScheme);
        var session = cookie.Succeeded ? IdentityClaims.SignInOf(cookie.Principal) : null;
        var account = session is { } s ? await accounts.FindActiveAsync(s.AccountId, cancellationToken) : null;
        // A sign-in older than max_age, or prompt=login, means the password again (OIDC Core 3.1.2.1).
        var mustSignIn = account is null
            || request.HasPromptValue(PromptValues.Login)
            || (request.MaxAge is { } maxAge && time.GetUtcNow() - session!.Value.AuthenticatedAt > TimeSpan.FromSeconds(maxAge));
        if (mustSignIn)
        {
            if (request.HasPromptValue(PromptValues.None))
            {
                return Refuse(Errors.LoginRequired, "The user must sign in.");
            }
            return Results.Challenge(new AuthenticationProperties { RedirectUri = ReturnAfterSignIn(context, request) }, [IdentitySetup.SignInScheme]);
        }

        var personScope = account!.Kind.Scope();
        var requested = request.GetScopes();
        var otherRoleScopes = requested.Where(s => s != personScope && IsRoleScope(s)).ToList();
        if (otherRoleScopes.Count > 0)
        {
            return Refuse(Errors.AccessDenied, $"This account cannot be granted the scope '{otherRoleScopes[0]}'.");
        }
        // The account's own scope is always granted: it is what the account is for.
        var granted = requested.Where(IsPersonProtocolScope).Append(personScope).ToList();
        var principal = new ClaimsPrincipal(IdentityClaims.ForPerson(account, granted, session!.Value.AuthenticatedAt));
        principal.SetPresenters(request.ClientId!);
        return Results.SignIn(principal, authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>
    /// Where the sign-in page sends the person back: this authorization request as a GET, without
    /// what asked for the fresh sign-in (prompt=login, max_age), or it would ask again forever. That
    /// the sign-in really is fresh is what <c>auth_time</c> in the tokens tells the client.
    /// </summary>
    private static string ReturnAfterSignIn(HttpContext context, OpenIddictRequest request)
    {
        var parameters = new List<KeyValuePair<string, StringValues>>();
        foreach (var name in AuthorizationParameters)
        {
            if (name == Parameters.MaxAge || request.GetParameter(name)?.ToString() is not { Length: > 0 } value)
            {
                continue;
            }
            if (name == Parameters.Prompt)
            {
                value = string.Join(' ', request.GetPromptValues().Where(p => p != PromptValues.Login));
                if (value.Length == 0)
                {
                    continue;
                }
            }
            parameters.Add(new(name, value));
        }
        return context.Request.PathBase + AuthorizePath + QueryString.Create(parameters);
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
            // Only the client it was issued to may introspect or revoke it (TokenBinding).
            principal.SetPresenters(request.ClientId!);
            await audit.AppendAsync(new AuditEntryDraft(AuditKinds.TokenIssued, $"client:{request.ClientId}",
                Payload: new { grant = GrantTypes.ClientCredentials, scopes = new[] { scope } }), cancellationToken);
            return Results.SignIn(principal, authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        }

        if (request.IsAuthorizationCodeGrantType() || request.IsRefreshTokenGrantType())
        {
            // The principal stored in the code or refresh token; rebuilt from the account so that a
            // locked or deleted account stops getting tokens, and a changed role takes effect. The
            // sign-in moment is the stored one: refreshing is not signing in.
            var stored = await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
            var account = stored.Succeeded && Guid.TryParse(stored.Principal.GetClaim(Claims.Subject), out var id)
                ? await accounts.FindActiveAsync(id, cancellationToken)
                : null;
            if (account is null || stored.Principal is not { } grant || grant.AuthenticatedAt() is not { } authenticatedAt)
            {
                return Refuse(Errors.InvalidGrant, "The account may no longer sign in, or must sign in again.");
            }
            var scopes = grant.GetScopes().Where(s => IsPersonProtocolScope(s) || s == account.Kind.Scope()).ToList();
            var principal = new ClaimsPrincipal(IdentityClaims.ForPerson(account, scopes, authenticatedAt));
            principal.SetPresenters(request.ClientId!);
            await audit.AppendAsync(new AuditEntryDraft(AuditKinds.TokenIssued, AccountService.ActorOf(account), SubjectRef: AccountService.SubjectOf(account),
                Payload: new { grant = request.GrantType, client = request.ClientId, scopes }), cancellationToken);
            return Results.SignIn(principal, authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        }

        return Refuse(Errors.UnsupportedGrantType, "The grant type is not supported.");
    }

    /// <summary>
    /// OIDC userinfo for people's access tokens (OpenIddict has checked the token, including
    /// revocation): <c>sub</c>, and with the <c>profile</c> scope the display name and username,
    /// read fresh from the account. Nothing else: roles and internal data are not the client's business.
    /// </summary>
    private static async Task<IResult> UserInfoAsync(HttpContext context, AccountService accounts, CancellationToken cancellationToken)
    {
        var token = await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        if (token.Principal is not { } principal || !principal.HasScope(Scopes.OpenId) || !Guid.TryParse(principal.GetClaim(Claims.Subject), out var id))
        {
            return Results.Forbid(ErrorProperties(Errors.InsufficientScope, "Userinfo is for access tokens of people signed in with the 'openid' scope."),
                [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
        }
        if (await accounts.FindActiveAsync(id, cancellationToken) is not { } account)
        {
            return Results.Challenge(ErrorProperties(Errors.InvalidToken, "The account may no longer sign in."),
                [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
        }
        var claims = new Dictionary<string, string> { [Claims.Subject] = account.Id.ToString("D") };
        if (principal.HasScope(Scopes.Profile))
        {
            claims[Claims.Name] = account.DisplayName;
            claims[Claims.PreferredUsername] = account.Username;
        }
        return Results.Ok(claims);
    }

    /// <summary>
    /// RP-initiated logout (OIDC RP-Initiated Logout 1.0). It ends the sign-in session (the cookie)
    /// and nothing else: tokens the person's apps hold stay theirs to revoke at /connect/revoke, since
    /// a link anyone can send must not revoke anything. Signing out needs either an id_token_hint for
    /// the person signed in or their confirmation on the sign-out page (anti-forgery checked), so a
    /// bare link cannot sign anyone out either. OpenIddict has already refused an unregistered
    /// post_logout_redirect_uri or a hint issued to another client.
    /// </summary>
    private static async Task<IResult> EndSessionAsync(HttpContext context, IAntiforgery antiforgery, ILoggerFactory loggers)
    {
        var request = context.GetOpenIddictServerRequest()
            ?? throw new InvalidOperationException("OpenIddict did not attach the end-session request.");

        var session = await context.AuthenticateAsync(IdentitySetup.SignInScheme);
        if (session.Succeeded)
        {
            var hint = (await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme)).Principal;
            var hintedSubject = hint?.GetClaim(Claims.Subject);
            var forThisPerson = hintedSubject is not null && hintedSubject == session.Principal.GetClaim(Claims.Subject);
            if (!forThisPerson && !await IsConfirmedAsync(context, antiforgery))
            {
                return Results.Redirect(context.Request.PathBase + SignOutPage + QueryString.Create(ConfirmationParameters(request, hint)));
            }
            await context.SignOutAsync(IdentitySetup.SignInScheme);
            LogSignedOut(loggers.CreateLogger(typeof(ConnectEndpoints)), request.ClientId ?? hint?.GetAudiences().FirstOrDefault() ?? "-");
        }
        // To the validated post_logout_redirect_uri (with state) if there is one, else the signed-out page.
        return Results.SignOut(new AuthenticationProperties { RedirectUri = context.Request.PathBase + SignOutPage + "?done=true" },
            [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
    }

    private static async Task<bool> IsConfirmedAsync(HttpContext context, IAntiforgery antiforgery)
    {
        if (!HttpMethods.IsPost(context.Request.Method) || !context.Request.HasFormContentType)
        {
            return false;
        }
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        return form["confirm"] == "yes" && await antiforgery.IsRequestValidAsync(context);
    }

    // What the confirmation form posts back. The id_token_hint stays out of the URL (it is a token);
    // the client it names is kept, so the post-logout URI is still checked against that client.
    private static IEnumerable<KeyValuePair<string, string?>> ConfirmationParameters(OpenIddictRequest request, ClaimsPrincipal? hint)
    {
        var clientId = request.ClientId ?? hint?.GetAudiences().FirstOrDefault();
        foreach (var (name, value) in new[]
        {
            (Parameters.ClientId, clientId),
            (Parameters.PostLogoutRedirectUri, request.PostLogoutRedirectUri),
            (Parameters.State, request.State),
            (Parameters.UiLocales, request.UiLocales),
        })
        {
            if (!string.IsNullOrEmpty(value))
            {
                yield return new(name, value);
            }
        }
    }

    private static bool IsRoleScope(string scope) =>
        AccountKinds.PersonScopes.Contains(scope) || scope is AuthPolicies.Business or AuthPolicies.DataSource;

    private static bool IsPersonProtocolScope(string scope) => scope is Scopes.OpenId or Scopes.OfflineAccess or Scopes.Profile;

    private static IResult Refuse(string error, string description) =>
        Results.Forbid(ErrorProperties(error, description), [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);

    private static AuthenticationProperties ErrorProperties(string error, string description) => new(new Dictionary<string, string?>
    {
        [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
        [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
    });

    [LoggerMessage(Level = LogLevel.Information, Message = "Signed out of the sign-in session through client {ClientId}")]
    private static partial void LogSignedOut(ILogger logger, string clientId);
}
