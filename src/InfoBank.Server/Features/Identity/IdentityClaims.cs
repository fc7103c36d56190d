using System.Security.Claims;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace InfoBank.Server.Features.Identity;

/// <summary>Builds the identities the token server signs, for people and for machine clients.</summary>
internal static class IdentityClaims
{
    /// <summary>The account kind on the sign-in cookie (not in tokens: there the scope says it).</summary>
    public const string Kind = "infobank_kind";

    public static ClaimsIdentity ForPerson(Account account, IEnumerable<string> scopes)
    {
        var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
        identity.SetClaim(Claims.Subject, account.Id.ToString("D"))
            .SetClaim(Claims.Name, account.DisplayName)
            .SetClaim(Claims.PreferredUsername, account.Username);
        if (account.CommitteeRole is { } role)
        {
            identity.SetClaim(Claims.Role, role);
        }
        identity.SetScopes(scopes);
        identity.SetDestinations(claim => claim.Type switch
        {
            // The display name and username are for the client's screen (identity token), not for APIs.
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

    /// <summary>The short-lived cookie that carries a signed-in person from the sign-in page to the authorization endpoint.</summary>
    public static ClaimsPrincipal ForSignInCookie(Account account, string scheme)
    {
        var identity = new ClaimsIdentity(scheme, Claims.Name, Claims.Role);
        identity.AddClaim(new Claim(Claims.Subject, account.Id.ToString("D")));
        identity.AddClaim(new Claim(Claims.Name, account.DisplayName));
        identity.AddClaim(new Claim(Kind, account.Kind.ToText()));
        return new ClaimsPrincipal(identity);
    }
}
