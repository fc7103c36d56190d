using System.Net;
using InfoBank.Server.Infrastructure.Auth;

namespace InfoBank.Server.Tests.Infrastructure;

/// <summary>The kinds of caller every route is tried with.</summary>
public enum Caller
{
    None,
    Resident,
    Business,
    Source,
    Committee,
    Auditor,
    Operator,
}

/// <summary>
/// One route of a route group and who may call it. Allowed callers must get <see cref="Success"/>;
/// a caller without a token gets 401; any other kind of token gets 403.
/// </summary>
public sealed record MatrixRoute(string Method, string Path, Caller[] Allowed, HttpStatusCode Success = HttpStatusCode.OK, string? JsonBody = null)
{
    public override string ToString() => $"{Method} {Path}";
}

/// <summary>
/// Every route group × every kind of caller. When a feature lands, add a row for each of its
/// route groups here (one representative route is enough; pick one whose success status does not
/// depend on data, or give the status an allowed caller gets for a well-formed request).
/// </summary>
public static class AuthorizationMatrix
{
    public static readonly Caller[] Anyone = Enum.GetValues<Caller>();

    public static readonly List<MatrixRoute> Routes =
    [
        // Open to anyone.
        new("GET", "/health/ready", Anyone),
        new("GET", "/openapi/v1.json", Anyone),
        new("GET", "/.well-known/openid-configuration", Anyone),
        new("GET", "/.well-known/jwks", Anyone),
        new("GET", "/signin", Anyone),
        new("GET", "/signout", Anyone),

        // One probe per policy (mapped by the matrix test's server), so each policy is covered
        // even before the feature that uses it lands.
        new("GET", "/test/policy/" + AuthPolicies.Resident, [Caller.Resident]),
        new("GET", "/test/policy/" + AuthPolicies.Business, [Caller.Business]),
        new("GET", "/test/policy/" + AuthPolicies.DataSource, [Caller.Source]),
        new("GET", "/test/policy/" + AuthPolicies.Committee, [Caller.Committee]),
        new("GET", "/test/policy/" + AuthPolicies.Auditor, [Caller.Auditor]),
        new("GET", "/test/policy/" + AuthPolicies.Operator, [Caller.Operator]),
        new("GET", "/test/policy/none", Anyone.Where(c => c != Caller.None).ToArray()),

        // Identity: operator administration; the jobs dashboard.
        new("GET", "/api/v1/admin/accounts", [Caller.Operator]),
        new("GET", "/api/v1/admin/clients", [Caller.Operator]),
        new("POST", "/api/v1/admin/accounts/00000000-0000-0000-0000-000000000001/unlock", [Caller.Operator], HttpStatusCode.NotFound),
        new("GET", "/jobs", [Caller.Operator]),

        // Custody: terms and inventory are public; /me is the resident's; deposits are data sources'.
        new("GET", "/api/v1/custody/terms", Anyone),
        new("GET", "/api/v1/inventory", Anyone),
        new("GET", "/api/v1/me", [Caller.Resident]),
        new("GET", "/api/v1/me/records", [Caller.Resident]),

        // Consent: signing keys and offers are public; consents belong to the resident.
        new("GET", "/api/v1/keys", Anyone),
        new("GET", "/api/v1/offers", Anyone),
        new("GET", "/api/v1/me/consents", [Caller.Resident]),
        new("DELETE", "/api/v1/me/consents/00000000-0000-0000-0000-000000000001", [Caller.Resident], HttpStatusCode.NotFound),
        new("GET", "/api/v1/me/consents/00000000-0000-0000-0000-000000000001/receipt", [Caller.Resident], HttpStatusCode.NotFound),

        // Applications: businesses apply; the committee reviews, decides and stops grants.
        new("GET", "/api/v1/applications", [Caller.Business]),
        new("GET", "/api/v1/applications/00000000-0000-0000-0000-000000000001", [Caller.Business], HttpStatusCode.NotFound),
        new("GET", "/api/v1/committee/applications", [Caller.Committee]),
        new("POST", "/api/v1/committee/grants/00000000-0000-0000-0000-000000000001/revoke", [Caller.Committee], HttpStatusCode.NotFound, "{\"reason\":\"probe\"}"),

        // Audit: the auditor's read-only trail; the checkpoint keys are public.
        new("GET", "/api/v1/audit/keys", Anyone),
        new("GET", "/api/v1/audit/checkpoints", [Caller.Auditor]),
        new("GET", "/api/v1/audit/entries", [Caller.Auditor]),
        new("GET", "/api/v1/audit/export?upto=0", [Caller.Auditor]),
        new("GET", "/api/v1/audit/signer", [Caller.Auditor]),
        new("GET", "/api/v1/me/audit/proofs/0", [Caller.Resident], HttpStatusCode.NotFound),

        // Access: the resident's passbook; the committee's access log and alerts.
        new("GET", "/api/v1/me/passbook", [Caller.Resident]),
        new("GET", "/api/v1/committee/access-log", [Caller.Committee]),
        new("GET", "/api/v1/committee/alerts", [Caller.Committee]),
    ];
}
