using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using Microsoft.AspNetCore;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace InfoBank.Server.Features.Identity;

/// <summary>
/// Every token is bound to the client it was issued to (its presenter, set at issue by
/// <see cref="ConnectEndpoints"/>), and only that client may introspect or revoke it. OpenIddict's
/// own check of access tokens applies only to tokens that also name an audience, which ours do not,
/// so without this any business could introspect a resident's token (and learn the account id) or
/// revoke another client's. It runs just before OpenIddict's check, so refresh tokens (which
/// OpenIddict does bind) get the same answer and are audited the same way. A refused introspection answers <c>active: false</c>, as for an unknown token (RFC 7662
/// §2.2, §4); a refused revocation is an <c>unauthorized_client</c> error and revokes nothing
/// (RFC 7009 §2.1). Both are audited: the endpoints are rate-limited per address, so this cannot
/// grow the log at will.
/// </summary>
internal static partial class TokenBinding
{
    public static OpenIddictServerHandlerDescriptor IntrospectionDescriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateIntrospectionRequestContext>()
            .UseScopedHandler<IntrospectionHandler>()
            .SetOrder(OpenIddictServerHandlers.Introspection.ValidateAuthorizedParty.Descriptor.Order - 500)
            .SetType(OpenIddictServerHandlerType.Custom).Build();

    public static OpenIddictServerHandlerDescriptor RevocationDescriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateRevocationRequestContext>()
            .UseScopedHandler<RevocationHandler>()
            .SetOrder(OpenIddictServerHandlers.Revocation.ValidateAuthorizedParty.Descriptor.Order - 500)
            .SetType(OpenIddictServerHandlerType.Custom).Build();

    /// <summary>
    /// Introspection is POSTed (RFC 7662 §2.1). OpenIddict would also take a GET, whose client
    /// secret would sit in a URL, outside the rate limit on client-secret checks (which counts POSTs).
    /// Refused before anything is checked.
    /// </summary>
    public static OpenIddictServerHandlerDescriptor IntrospectionMethodDescriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateIntrospectionRequestContext>()
            .UseSingletonHandler<IntrospectionMethodHandler>()
            .SetOrder(int.MinValue + 50_000)
            .SetType(OpenIddictServerHandlerType.Custom).Build();

    /// <summary>
    /// Userinfo takes the access token from the Authorization header only (RFC 6750 §2.1): one in
    /// the query string or form body (which OpenIddict would otherwise accept) is refused, so that
    /// tokens never travel where they are logged or cached.
    /// </summary>
    public static OpenIddictServerHandlerDescriptor UserInfoHeaderOnlyDescriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateUserInfoRequestContext>()
            .UseSingletonHandler<UserInfoHeaderOnlyHandler>()
            .SetOrder(int.MinValue + 50_000)
            .SetType(OpenIddictServerHandlerType.Custom).Build();

    internal sealed class IntrospectionHandler(IOpenIddictApplicationManager applications, IAuditLog audit, ILogger<IntrospectionHandler> logger)
        : IOpenIddictServerHandler<ValidateIntrospectionRequestContext>
    {
        public async ValueTask HandleAsync(ValidateIntrospectionRequestContext context)
        {
            if (await IsForeignAsync(applications, audit, logger, "introspect", context.ClientId, context.GenericTokenPrincipal, context.CancellationToken))
            {
                // invalid_token is what OpenIddict turns into { "active": false }.
                context.Reject(Errors.InvalidToken, "The token is not active for this client.");
            }
        }
    }

    internal sealed class RevocationHandler(IOpenIddictApplicationManager applications, IAuditLog audit, ILogger<RevocationHandler> logger)
        : IOpenIddictServerHandler<ValidateRevocationRequestContext>
    {
        public async ValueTask HandleAsync(ValidateRevocationRequestContext context)
        {
            if (await IsForeignAsync(applications, audit, logger, "revoke", context.ClientId, context.GenericTokenPrincipal, context.CancellationToken))
            {
                context.Reject(Errors.UnauthorizedClient, "The token was not issued to this client.");
            }
        }
    }

    internal sealed class IntrospectionMethodHandler : IOpenIddictServerHandler<ValidateIntrospectionRequestContext>
    {
        public ValueTask HandleAsync(ValidateIntrospectionRequestContext context)
        {
            if (!HttpMethods.IsPost(context.Transaction.GetHttpRequest()?.Method ?? ""))
            {
                context.Reject(Errors.InvalidRequest, "Introspection requests are POSTed as a form (RFC 7662 section 2.1).");
            }
            return default;
        }
    }

    internal sealed class UserInfoHeaderOnlyHandler : IOpenIddictServerHandler<ValidateUserInfoRequestContext>
    {
        public async ValueTask HandleAsync(ValidateUserInfoRequestContext context)
        {
            var http = context.Transaction.GetHttpRequest()
                ?? throw new InvalidOperationException("The userinfo request has no HTTP request.");
            // OpenIddict has already read the form of a POST, so this reads a buffered copy.
            var inForm = http.HasFormContentType && (await http.ReadFormAsync(context.CancellationToken)).ContainsKey(Parameters.AccessToken);
            if (inForm || http.Query.ContainsKey(Parameters.AccessToken))
            {
                context.Reject(Errors.InvalidRequest, "The access token goes in the Authorization header (RFC 6750 section 2.1), never in the query string or the form body.");
            }
        }
    }

    private static async ValueTask<bool> IsForeignAsync(IOpenIddictApplicationManager applications, IAuditLog audit, ILogger logger,
        string endpoint, string? clientId, System.Security.Claims.ClaimsPrincipal? token, CancellationToken cancellationToken)
    {
        if (token is null)
        {
            // Nothing to bind: OpenIddict refuses the request on its own.
            return false;
        }
        var presenters = token.GetPresenters();
        if (!string.IsNullOrEmpty(clientId) && presenters.Contains(clientId, StringComparer.Ordinal))
        {
            return false;
        }
        // A confidential caller has proved its secret by now; a public client only claims its id.
        var application = string.IsNullOrEmpty(clientId) ? null : await applications.FindByClientIdAsync(clientId, cancellationToken);
        var authenticated = application is not null && await applications.HasClientTypeAsync(application, ClientTypes.Confidential, cancellationToken);
        LogForeignToken(logger, endpoint, clientId ?? "-");
        try
        {
            await audit.AppendAsync(new AuditEntryDraft(AuditKinds.AccessDenied, authenticated ? $"client:{clientId}" : "anonymous",
                Payload: new
                {
                    endpoint,
                    reason = "token-of-another-client",
                    claimedClientId = authenticated ? null : clientId,
                    issuedTo = presenters.FirstOrDefault(),
                }), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogAuditFailed(logger, e);
        }
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "OAuth {Endpoint} refused: client {ClientId} presented a token issued to another client")]
    private static partial void LogForeignToken(ILogger logger, string endpoint, string clientId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not audit a refused OAuth request")]
    private static partial void LogAuditFailed(ILogger logger, Exception exception);
}
