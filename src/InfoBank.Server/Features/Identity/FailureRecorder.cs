using InfoBank.Server.Features.Audit;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace InfoBank.Server.Features.Identity;

/// <summary>
/// Records every refused OAuth request (wrong secret, unknown client, bad redirect URI, bad PKCE
/// verifier, replayed or expired code, expired or revoked token) in the audit log as a failed
/// sign-in, and as a log line: the OAuth error code and the client id (a registered organisation's
/// id, not personal data); never a username, token or secret. A failure to audit a refusal is
/// logged but does not replace the refusal the client is owed.
/// </summary>
internal static partial class FailureRecorder
{
    // Before OpenIddict's own handlers: the one that writes the response ends the pipeline.
    private const int Order = int.MinValue + 100_000;

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
        // Only the token endpoint's refusals go into the append-only log: it is rate-limited per
        // address, while anyone can produce authorize, introspection and revocation refusals at will
        // (those are logged above). The client id is only claimed, never authenticated, so it is not
        // the actor: the entry names it in its payload, as refused sign-ins do with a username.
        if (endpoint != "token")
        {
            return;
        }
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
/// Records each route refused by policy (no token, a bad token, or a token of the wrong kind) with
/// the route template and the caller's scopes, then answers as the framework would: 401 or 403, turned into
/// a problem-details body by the status-code pages.
/// </summary>
internal sealed partial class AuthorizationFailureRecorder(IAuditLog audit, ILogger<AuthorizationFailureRecorder> logger) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Forbidden || authorizeResult.Challenged)
        {
            var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? context.GetEndpoint()?.DisplayName ?? "-";
            var caller = context.User.GetClaim(Claims.ClientId) is { } clientId ? $"client:{clientId}"
                : context.User.Identity?.IsAuthenticated == true ? "person" : "anonymous";
            LogRefused(logger, authorizeResult.Forbidden ? 403 : 401, route, caller, string.Join(" ", context.User.GetScopes()));
            // A request with no token at all is only logged: auditing it would let anyone grow the
            // append-only log at will. A wrong-kind, expired or revoked token is a recorded event.
            if (authorizeResult.Forbidden || context.Request.Headers.Authorization.Count > 0)
            {
                return RecordThenAnswerAsync(next, context, policy, authorizeResult, route);
            }
        }
        return _default.HandleAsync(next, context, policy, authorizeResult);
    }

    private async Task RecordThenAnswerAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult, string route)
    {
        var user = context.User;
        var subject = user.GetClaim(Claims.Subject);
        var personKind = AccountKinds.PersonScopes.FirstOrDefault(user.HasScope) switch
        {
            Infrastructure.Auth.AuthPolicies.Resident => "resident",
            Infrastructure.Auth.AuthPolicies.Committee => "committee",
            Infrastructure.Auth.AuthPolicies.Auditor => "auditor",
            Infrastructure.Auth.AuthPolicies.Operator => "operator",
            _ => null,
        };
        var actor = user.GetClaim(Claims.ClientId) is { } clientId && personKind is null ? $"client:{clientId}"
            : personKind is not null && subject is not null ? $"{personKind}:{subject}"
            : "anonymous";
        try
        {
            await audit.AppendAsync(new AuditEntryDraft(AuditKinds.AccessDenied, actor,
                SubjectRef: personKind == "resident" ? subject : null,
                Payload: new { route, method = context.Request.Method, status = authorizeResult.Forbidden ? 403 : 401, scopes = user.GetScopes() }),
                context.RequestAborted);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogAuditFailed(logger, e);
        }
        await _default.HandleAsync(next, context, policy, authorizeResult);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not audit a refused route")]
    private static partial void LogAuditFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Route {Route} refused with {Status} to {Caller} with scopes [{Scopes}]")]
    private static partial void LogRefused(ILogger logger, int status, string route, string caller, string scopes);
}
