using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Validation;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace InfoBank.Server.Features.Identity;

/// <summary>
/// Records every refused OAuth request (wrong secret, unknown client, bad redirect URI, bad PKCE
/// verifier, replayed or expired code, expired or revoked token). Until the audit log is on main
/// this is a log line with the OAuth error code and the client id (a registered organisation's
/// id, not personal data); never a username, token or secret.
/// </summary>
internal static partial class FailureRecorder
{
    private const int Order = int.MaxValue - 100_000;

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

    public static OpenIddictValidationHandlerDescriptor ValidationDescriptor { get; } =
        OpenIddictValidationHandlerDescriptor.CreateBuilder<OpenIddictValidationEvents.ProcessAuthenticationContext>()
            .UseSingletonHandler<ValidationHandler>().SetOrder(int.MaxValue - 100_000).SetType(OpenIddictValidationHandlerType.Custom).Build();

    internal sealed class TokenHandler(ILogger<TokenHandler> logger) : IOpenIddictServerHandler<OpenIddictServerEvents.ApplyTokenResponseContext>
    {
        public ValueTask HandleAsync(OpenIddictServerEvents.ApplyTokenResponseContext context)
        {
            if (!string.IsNullOrEmpty(context.Response.Error))
            {
                LogRefused(logger, "token", context.Response.Error, context.Request?.GrantType ?? "-", context.Request?.ClientId ?? "-");
            }
            return ValueTask.CompletedTask;
        }
    }

    internal sealed class AuthorizationHandler(ILogger<AuthorizationHandler> logger) : IOpenIddictServerHandler<OpenIddictServerEvents.ApplyAuthorizationResponseContext>
    {
        public ValueTask HandleAsync(OpenIddictServerEvents.ApplyAuthorizationResponseContext context)
        {
            if (!string.IsNullOrEmpty(context.Response.Error))
            {
                LogRefused(logger, "authorize", context.Response.Error, context.Request?.ResponseType ?? "-", context.Request?.ClientId ?? "-");
            }
            return ValueTask.CompletedTask;
        }
    }

    internal sealed class IntrospectionHandler(ILogger<IntrospectionHandler> logger) : IOpenIddictServerHandler<OpenIddictServerEvents.ApplyIntrospectionResponseContext>
    {
        public ValueTask HandleAsync(OpenIddictServerEvents.ApplyIntrospectionResponseContext context)
        {
            if (!string.IsNullOrEmpty(context.Response.Error))
            {
                LogRefused(logger, "introspect", context.Response.Error, "-", context.Request?.ClientId ?? "-");
            }
            return ValueTask.CompletedTask;
        }
    }

    internal sealed class RevocationHandler(ILogger<RevocationHandler> logger) : IOpenIddictServerHandler<OpenIddictServerEvents.ApplyRevocationResponseContext>
    {
        public ValueTask HandleAsync(OpenIddictServerEvents.ApplyRevocationResponseContext context)
        {
            if (!string.IsNullOrEmpty(context.Response.Error))
            {
                LogRefused(logger, "revoke", context.Response.Error, "-", context.Request?.ClientId ?? "-");
            }
            return ValueTask.CompletedTask;
        }
    }

    internal sealed class ValidationHandler(ILogger<ValidationHandler> logger) : IOpenIddictValidationHandler<OpenIddictValidationEvents.ProcessAuthenticationContext>
    {
        public ValueTask HandleAsync(OpenIddictValidationEvents.ProcessAuthenticationContext context)
        {
            // A request without a token is not a failure: anonymous routes see those all the time.
            if (context.IsRejected && context.Error is { } error && error != Errors.MissingToken)
            {
                LogTokenRejected(logger, error);
            }
            return ValueTask.CompletedTask;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "OAuth {Endpoint} request refused: {Error} (grant or response type {Type}, client {ClientId})")]
    private static partial void LogRefused(ILogger logger, string endpoint, string error, string type, string clientId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Access token refused: {Error}")]
    private static partial void LogTokenRejected(ILogger logger, string error);
}

/// <summary>
/// Records each route refused by policy (no token, or a token of the wrong kind) with the route
/// template and the policy failure, then answers as the framework would: 401 or 403, turned into
/// a problem-details body by the status-code pages.
/// </summary>
internal sealed partial class AuthorizationFailureRecorder(ILogger<AuthorizationFailureRecorder> logger) : IAuthorizationMiddlewareResultHandler
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
        }
        return _default.HandleAsync(next, context, policy, authorizeResult);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Route {Route} refused with {Status} to {Caller} with scopes [{Scopes}]")]
    private static partial void LogRefused(ILogger logger, int status, string route, string caller, string scopes);
}
