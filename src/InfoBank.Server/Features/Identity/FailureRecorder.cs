using System.Security.Claims;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Infrastructure.Errors;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Validation;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace InfoBank.Server.Features.Identity;

/// <summary>
/// Records refused OAuth requests as a log line (the OAuth error code and the client id, a
/// registered organisation's id, not personal data; never a username, token or secret) and, where
/// the endpoint is rate-limited per address before it checks a client secret, in the audit log as a
/// failed sign-in: every refusal of the token endpoint (wrong secret, unknown client, bad PKCE
/// verifier, replayed or expired code, expired or revoked refresh token), and every refused client
/// authentication at introspection and revocation. Authorization refusals, which anyone can cause
/// at will on an unthrottled endpoint, are only logged. A failure to audit a refusal is logged but
/// does not replace the refusal the client is owed.
/// </summary>
internal static partial class FailureRecorder
{
    // Before OpenIddict's own handlers: they write the response (ending the pipeline) and turn some
    // errors into others (invalid_token into invalid_grant, or into introspection's active: false).
    private const int Order = int.MinValue + 50_000;

    public static OpenIddictServerHandlerDescriptor TokenDescriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<OpenIddictServerEvents.ApplyTokenResponseContext>()
            .UseSingletonHandler<TokenHandler>().SetOrder(Order).SetType(OpenIddictServerHandlerType.Custom).Build();

    public static OpenIddictServerHandlerDescriptor AuthorizationDescriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<OpenIddictServerEvents.ApplyAuthorizationResponseContext>()
            .UseSingletonHandler<AuthorizationHandler>().SetOrder(Order).SetType(OpenIddictServerHandlerType.Custom).Build();

    public static OpenIddictServerHandlerDescriptor IntrospectionDescriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<OpenIddictServerEvents.ApplyIntrospectionResponseContext>()
            .UseSingletonHandler<IntrospectionHandler>().SetOrder(Order).SetType(OpenIddictServerHandlerType.Custom).Build();

    public static OpenIddictServerHandlerDescriptor RevocationDescriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<OpenIddictServerEvents.ApplyRevocationResponseContext>()
            .UseSingletonHandler<RevocationHandler>().SetOrder(Order).SetType(OpenIddictServerHandlerType.Custom).Build();

    internal sealed class TokenHandler(IAuditLog audit, ILogger<TokenHandler> logger) : IOpenIddictServerHandler<OpenIddictServerEvents.ApplyTokenResponseContext>
    {
        public ValueTask HandleAsync(OpenIddictServerEvents.ApplyTokenResponseContext context) =>
            RecordAsync(audit, logger, "token", context.Response.Error, context.Request?.GrantType, context.Request?.ClientId, context.CancellationToken);
    }

    internal sealed class AuthorizationHandler(IAuditLog audit, ILogger<AuthorizationHandler> logger) : IOpenIddictServerHandler<OpenIddictServerEvents.ApplyAuthorizationResponseContext>
    {
        public ValueTask HandleAsync(OpenIddictServerEvents.ApplyAuthorizationResponseContext context) =>
            RecordAsync(audit, logger, "authorize", context.Response.Error, context.Request?.ResponseType, context.Request?.ClientId, context.CancellationToken);
    }

    internal sealed class IntrospectionHandler(IAuditLog audit, ILogger<IntrospectionHandler> logger) : IOpenIddictServerHandler<OpenIddictServerEvents.ApplyIntrospectionResponseContext>
    {
        public ValueTask HandleAsync(OpenIddictServerEvents.ApplyIntrospectionResponseContext context) =>
            RecordAsync(audit, logger, "introspect", context.Response.Error, null, context.Request?.ClientId, context.CancellationToken);
    }

    internal sealed class RevocationHandler(IAuditLog audit, ILogger<RevocationHandler> logger) : IOpenIddictServerHandler<OpenIddictServerEvents.ApplyRevocationResponseContext>
    {
        public ValueTask HandleAsync(OpenIddictServerEvents.ApplyRevocationResponseContext context) =>
            RecordAsync(audit, logger, "revoke", context.Response.Error, null, context.Request?.ClientId, context.CancellationToken);
    }

    private static async ValueTask RecordAsync(IAuditLog audit, ILogger logger, string endpoint, string? error, string? type, string? clientId, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(error))
        {
            return;
        }
        LogRefused(logger, endpoint, error, type ?? "-", clientId ?? "-");
        var audited = endpoint == "token" || (endpoint is "introspect" or "revoke" && error == Errors.InvalidClient);
        if (!audited)
        {
            return;
        }
        // The client id is only claimed, never authenticated, so it is not the actor: the entry
        // names it in its payload, as refused sign-ins do with a username.
        try
        {
            await audit.AppendAsync(new AuditEntryDraft(AuditKinds.SignInFailed, "anonymous",
                Payload: new { method = "oauth", endpoint, error, type, claimedClientId = clientId }), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogAuditFailed(logger, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not audit a refused OAuth request")]
    private static partial void LogAuditFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "OAuth {Endpoint} request refused: {Error} (grant or response type {Type}, client {ClientId})")]
    private static partial void LogRefused(ILogger logger, string endpoint, string error, string type, string clientId);
}

/// <summary>
/// Remembers, for the rest of the request, that the bearer token passed signature and decryption
/// with our keys: it is one of ours, whatever OpenIddict decides next (expired, revoked, its
/// authorization withdrawn). Runs before any of those checks. <see cref="AuthorizationFailureRecorder"/>
/// audits a refused route only for such a token, so garbage in an Authorization header costs an
/// anonymous caller nothing but a log line.
/// </summary>
internal sealed class GenuineTokenMarker : IOpenIddictValidationHandler<OpenIddictValidationEvents.ValidateTokenContext>
{
    private const string ItemKey = "InfoBank.Identity.GenuineToken";

    public static OpenIddictValidationHandlerDescriptor Descriptor { get; } =
        OpenIddictValidationHandlerDescriptor.CreateBuilder<OpenIddictValidationEvents.ValidateTokenContext>()
            .UseSingletonHandler<GenuineTokenMarker>()
            .SetOrder(OpenIddictValidationHandlers.Protection.MapInternalClaims.Descriptor.Order + 500)
            .SetType(OpenIddictValidationHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(OpenIddictValidationEvents.ValidateTokenContext context)
    {
        if (context.Principal is { } principal && context.Transaction.GetHttpRequest() is { } request)
        {
            request.HttpContext.Items[ItemKey] = principal;
        }
        return default;
    }

    /// <summary>The claims of this request's bearer token if it is one of ours, valid or not.</summary>
    public static ClaimsPrincipal? Of(HttpContext context) => context.Items.TryGetValue(ItemKey, out var value) ? value as ClaimsPrincipal : null;
}

/// <summary>
/// Records each route refused by policy with the route template and the caller's scopes, then
/// answers as the framework would: 401 or 403, turned into a problem-details body by the
/// status-code pages. Every refusal is logged. Only two kinds go into the append-only audit log,
/// within a per-address budget (<see cref="RefusalAuditBudget"/>): a 403 (an authenticated caller
/// of the wrong kind), and a 401 for a token that is genuinely ours but expired or was revoked
/// (<see cref="GenuineTokenMarker"/>). No token, or a token that is not ours, is only logged:
/// otherwise anyone could grow the log at will.
/// </summary>
internal sealed partial class AuthorizationFailureRecorder(
    IAuditLog audit, RefusalAuditBudget budget, AccountStore accounts, IProblemDetailsService problems, ILogger<AuthorizationFailureRecorder> logger)
    : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Forbidden || authorizeResult.Challenged)
        {
            var status = authorizeResult.Forbidden ? StatusCodes.Status403Forbidden : StatusCodes.Status401Unauthorized;
            var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? context.GetEndpoint()?.DisplayName ?? "-";
            var caller = authorizeResult.Forbidden ? context.User : GenuineTokenMarker.Of(context);
            // A token issued before its account was erased: erasure deleted its entry, so it is
            // refused here. Said as such (the client must not retry or refresh), and not audited:
            // an entry naming the erased person would give them a new audit pseudonym.
            if (caller is not null && await IsErasedAsync(caller, context.RequestAborted))
            {
                LogErasedRefused(logger, route);
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                context.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\", error_description=\"The account was erased\"";
                await problems.TryWriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context,
                    ProblemDetails = ProblemTypes.AccountErased.ToDetails("This token's account was erased: it authorises nothing any more, and the account cannot sign in again. Nothing was changed."),
                });
                return;
            }
            var audited = caller is not null && budget.TryTake(context);
            var actor = caller is null ? "anonymous" : ActorOf(caller);
            LogRefused(logger, status, route, actor.StartsWith("client:", StringComparison.Ordinal) ? actor : actor.Split(':')[0],
                string.Join(" ", caller?.GetScopes() ?? []), audited);
            if (audited)
            {
                await RecordThenAnswerAsync(next, context, policy, authorizeResult, route, status, caller!, actor);
                return;
            }
        }
        await _default.HandleAsync(next, context, policy, authorizeResult);
    }

    // Machine tokens name their client as subject, never a GUID; only residents' accounts are tombstoned.
    private async Task<bool> IsErasedAsync(ClaimsPrincipal caller, CancellationToken cancellationToken) =>
        Guid.TryParse(caller.GetClaim(Claims.Subject), out var id)
        && await accounts.FindAsync(id, cancellationToken) is { } account && AccountStore.IsTombstone(account);

    private async Task RecordThenAnswerAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult,
        string route, int status, ClaimsPrincipal caller, string actor)
    {
        try
        {
            await audit.AppendAsync(new AuditEntryDraft(AuditKinds.AccessDenied, actor,
                SubjectRef: actor.StartsWith("resident:", StringComparison.Ordinal) ? caller.GetClaim(Claims.Subject) : null,
                Payload: new { route, method = context.Request.Method, status, scopes = caller.GetScopes() }),
                context.RequestAborted);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogAuditFailed(logger, e);
        }
        await _default.HandleAsync(next, context, policy, authorizeResult);
    }

    /// <summary><c>client:{id}</c> for a machine token, <c>{kind}:{account id}</c> for a person (token scope or sign-in cookie), else anonymous.</summary>
    private static string ActorOf(ClaimsPrincipal user)
    {
        var subject = user.GetClaim(Claims.Subject);
        var personKind = AccountKinds.PersonScopes.FirstOrDefault(user.HasScope) switch
        {
            AuthPolicies.Resident => "resident",
            AuthPolicies.Committee => "committee",
            AuthPolicies.Auditor => "auditor",
            AuthPolicies.Operator => "operator",
            _ => AccountKinds.TryParse(user.GetClaim(IdentityClaims.Kind), out var kind) ? kind.ToText() : null,
        };
        return user.GetClaim(Claims.ClientId) is { } clientId && personKind is null ? $"client:{clientId}"
            : personKind is not null && subject is not null ? $"{personKind}:{subject}"
            : "anonymous";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Route {Route} refused: the token's account was erased")]
    private static partial void LogErasedRefused(ILogger logger, string route);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not audit a refused route")]
    private static partial void LogAuditFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Route {Route} refused with {Status} to {Caller} with scopes [{Scopes}] (audited: {Audited})")]
    private static partial void LogRefused(ILogger logger, int status, string route, string caller, string scopes, bool audited);
}
