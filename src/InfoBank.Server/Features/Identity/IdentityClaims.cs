using System.Globalization;
using System.Security.Claims;
using InfoBank.Server.Infrastructure.Auth;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace InfoBank.Server.Features.Identity;

/// <summary>Builds the identities the token server signs, for people and for machine clients.</summary>
internal static class IdentityClaims
{
    /// <summary>The account kind on the sign-in cookie (not in tokens: there the scope says it).</summary>
    public const string Kind = "infobank_kind";

    /// <summary>
    /// A person's tokens: <c>sub</c> (the account id), <c>auth_time</c> (when they last typed their
    /// password, so an API can ask for a recent sign-in), the committee role if any, and only with
    /// the <c>profile</c> scope their display name and username, for the client's screen (identity
    /// token), never for APIs.
    /// </summary>
    public static ClaimsIdentity ForPerson(Account account, IReadOnlyCollection<string> scopes, DateTimeOffset authenticatedAt)
    {
        var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, account.Id.ToString("D"));
        identity.AddClaim(AuthenticationTime(authenticatedAt));
        if (scopes.Contains(Scopes.Profile))
        {
            identity.SetClaim(Claims.Name, account.DisplayName)
                .SetClaim(Claims.PreferredUsername, account.Username);
        }
        if (account.CommitteeRole is { } role)
        {
            identity.SetClaim(Claims.Role, role);
        }
        identity.SetScopes(scopes);
        identity.SetDestinations(claim => claim.Type switch
        {
            Claims.Name or Claims.PreferredUsername => [Destinations.IdentityToken],
            _ => [Destinations.AccessToken, Destinations.IdentityToken],
        });
        return identity;
    }

    public static ClaimsIdentity ForClient(string clientId, string displayName, string scope)
    {
        var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, clientId)
            .SetClaim(Claims.ClientId, clientId)
            .SetClaim(Claims.Name, displayName);
        identity.SetScopes(scope);
        identity.SetDestinations(_ => [Destinations.AccessToken]);
        return identity;
    }

    /// <summary>
    /// The short-lived cookie that carries a signed-in person from the sign-in page to the
    /// authorization endpoint, with the moment they typed their password (for max_age, and the
    /// <c>auth_time</c> of every token bought with it).
    /// </summary>
    public static ClaimsPrincipal ForSignInCookie(Account account, string scheme, DateTimeOffset authenticatedAt)
    {
        var identity = new ClaimsIdentity(scheme, Claims.Name, Claims.Role);
        identity.AddClaim(new Claim(Claims.Subject, account.Id.ToString("D")));
        identity.AddClaim(new Claim(Claims.Name, account.DisplayName));
        identity.AddClaim(new Claim(Kind, account.Kind.ToText()));
        identity.AddClaim(AuthenticationTime(authenticatedAt));
        return new ClaimsPrincipal(identity);
    }

    /// <summary>The account and sign-in moment of a sign-in cookie; null for a cookie without them (not one we issue).</summary>
    public static (Guid AccountId, DateTimeOffset AuthenticatedAt)? SignInOf(ClaimsPrincipal cookie) =>
        Guid.TryParse(cookie.GetClaim(Claims.Subject), out var id) && cookie.AuthenticatedAt() is { } at ? (id, at) : null;

    // OpenIddict only accepts auth_time as a JSON number, hence the integer claim type.
    private static Claim AuthenticationTime(DateTimeOffset at) =>
        new(Claims.AuthenticationTime, at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), ClaimValueTypes.Integer64);
}
