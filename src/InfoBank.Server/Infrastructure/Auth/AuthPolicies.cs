using System.Globalization;
using System.Security.Claims;

namespace InfoBank.Server.Infrastructure.Auth;

/// <summary>
/// Authorization policy names, one per kind of caller. Each route group requires exactly one;
/// deny is the default for anything not mapped to a policy.
/// </summary>
public static class AuthPolicies
{
    /// <summary>A resident, signed in through the authorization-code flow (scope <c>resident</c>).</summary>
    public const string Resident = "resident";

    /// <summary>A business client (client credentials, scope <c>business</c>).</summary>
    public const string Business = "business";

    /// <summary>A data source client (client credentials, scope <c>deposit</c>).</summary>
    public const string DataSource = "deposit";

    /// <summary>An ethics-committee member of any committee role (scope <c>committee</c>).</summary>
    public const string Committee = "committee";

    /// <summary>An auditor: read-only access to the audit trail (scope <c>audit</c>).</summary>
    public const string Auditor = "audit";

    /// <summary>An operator of the service (scope <c>operator</c>).</summary>
    public const string Operator = "operator";
}

/// <summary>Committee roles carried as <c>role</c> claims on committee tokens.</summary>
public static class CommitteeRoles
{
    public const string Secretariat = "secretariat";
    public const string Member = "member";
    public const string Chair = "chair";
}

public static class CallerClaims
{
    /// <summary>
    /// The account id of the signed-in person (<c>sub</c>). Handlers take the resident's id only from
    /// here, never from the route or body, so one resident cannot name another.
    /// </summary>
    public static Guid AccountId(this ClaimsPrincipal user) =>
        Guid.TryParse(user.FindFirstValue("sub"), out var id)
            ? id
            : throw new InvalidOperationException("The token has no account subject; the route's policy should have refused it.");

    /// <summary>
    /// When the signed-in person last typed their password (<c>auth_time</c>, carried unchanged
    /// through refreshes), or null for a caller without one (machine clients). A route that needs a
    /// recent sign-in compares it with the clock and, if it is too old, sends the person through
    /// <c>/connect/authorize</c> with <c>max_age</c> or <c>prompt=login</c>.
    /// </summary>
    public static DateTimeOffset? AuthenticatedAt(this ClaimsPrincipal user) =>
        long.TryParse(user.FindFirstValue("auth_time"), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            && seconds <= DateTimeOffset.MaxValue.ToUnixTimeSeconds()
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;

    /// <summary>The OAuth client id of a machine caller (business or data source).</summary>
    public static string ClientId(this ClaimsPrincipal user) =>
        user.FindFirstValue("client_id") ?? user.FindFirstValue("azp")
            ?? throw new InvalidOperationException("The token has no client id; the route's policy should have refused it.");
}
