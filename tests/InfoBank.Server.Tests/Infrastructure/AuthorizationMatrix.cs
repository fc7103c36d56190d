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
/// Every mapped route × every kind of caller. <c>AuthorizationMatrixTests.Every_mapped_route_has_a_row</c>
/// enumerates the server's endpoints and fails, naming the route, for any method + pattern that no
/// row here matches: a new route gets its row when it lands. Pick a request whose answer for an
/// allowed caller does not depend on data (an id that does not exist, a body the route refuses after
/// authorization) and never one that changes the shared callers (the resident is never enrolled, so
/// erasure without its confirmation is a 400).
/// </summary>
public static class AuthorizationMatrix
{
    public static readonly Caller[] Anyone = Enum.GetValues<Caller>();

    private const string Id = "00000000-0000-0000-0000-000000000001";

    public static readonly List<MatrixRoute> Routes =
    [
        // Open to anyone: operations, OAuth, the sign-in pages, the API reference, problem types.
        new("GET", "/health/live", Anyone),
        new("GET", "/health/ready", Anyone),
        new("GET", "/openapi/v1.json", Anyone),
        new("GET", "/.well-known/openid-configuration", Anyone),
        new("GET", "/.well-known/jwks", Anyone),
        new("GET", "/connect/authorize", Anyone, HttpStatusCode.BadRequest),
        new("POST", "/connect/token", Anyone, HttpStatusCode.BadRequest),
        new("POST", "/connect/authorize", Anyone, HttpStatusCode.BadRequest),
        new("POST", "/connect/introspect", Anyone, HttpStatusCode.BadRequest),
        new("POST", "/connect/revoke", Anyone, HttpStatusCode.BadRequest),
        new("GET", "/connect/userinfo", [Caller.Resident, Caller.Committee, Caller.Auditor, Caller.Operator]),
        // OpenIddict reads a POST to userinfo as a form: without one it is malformed, whoever asks.
        new("POST", "/connect/userinfo", Anyone, HttpStatusCode.BadRequest),
        new("GET", "/connect/endsession", Anyone, HttpStatusCode.Found),
        new("POST", "/connect/endsession", Anyone, HttpStatusCode.BadRequest),
        new("GET", "/signin", Anyone),
        new("GET", "/signout", Anyone),
        new("GET", "/signin/callback?code=probe", Anyone),
        new("GET", "/reference/v1", Anyone),
        new("GET", "/reference/scalar.js", Anyone),
        new("GET", "/reference/scalar.aspnetcore.js", Anyone),
        new("GET", "/reference/favicon.svg", Anyone),
        new("GET", "/problems", Anyone),
        new("GET", "/problems/not-found", Anyone),

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
        new("POST", $"/api/v1/admin/accounts/{Id}/unlock", [Caller.Operator], HttpStatusCode.NotFound),
        new("GET", "/jobs", [Caller.Operator]),

        // Custody: terms and inventory are public; /me is the resident's; deposits are data sources'.
        new("GET", "/api/v1/custody/terms", Anyone),
        new("GET", "/api/v1/inventory", Anyone),
        new("GET", "/api/v1/me", [Caller.Resident]),
        new("POST", "/api/v1/me/enrollment", [Caller.Resident], HttpStatusCode.UnprocessableEntity, "{\"agree\":false}"),
        new("PUT", "/api/v1/me/sources/probe-source", [Caller.Resident], HttpStatusCode.Conflict, "{\"categories\":[\"steps.daily\"]}"),
        new("DELETE", "/api/v1/me/sources/probe-source", [Caller.Resident], HttpStatusCode.NotFound),
        new("GET", "/api/v1/me/records", [Caller.Resident]),
        new("GET", "/api/v1/me/export", [Caller.Resident]),
        new("DELETE", "/api/v1/me", [Caller.Resident], HttpStatusCode.BadRequest),
        new("POST", "/api/v1/records", [Caller.Source], HttpStatusCode.UnprocessableEntity, "{\"records\":[]}"),

        // Consent: signing keys and offers are public; consents belong to the resident.
        new("GET", "/api/v1/keys", Anyone),
        new("GET", "/api/v1/offers", Anyone),
        new("GET", $"/api/v1/offers/{Id}", Anyone, HttpStatusCode.NotFound),
        new("GET", "/api/v1/me/consents", [Caller.Resident]),
        new("POST", "/api/v1/me/consents", [Caller.Resident], HttpStatusCode.Conflict, $"{{\"offerId\":\"{Id}\",\"noticeVersion\":1}}"),
        new("GET", $"/api/v1/me/consents/{Id}", [Caller.Resident], HttpStatusCode.NotFound),
        new("DELETE", $"/api/v1/me/consents/{Id}", [Caller.Resident], HttpStatusCode.NotFound),
        new("GET", $"/api/v1/me/consents/{Id}/receipt", [Caller.Resident], HttpStatusCode.NotFound),

        // Applications: businesses apply; the committee reviews, decides and stops grants.
        new("POST", "/api/v1/applications", [Caller.Business], HttpStatusCode.BadRequest, "{}"),
        new("GET", "/api/v1/applications", [Caller.Business]),
        new("GET", $"/api/v1/applications/{Id}", [Caller.Business], HttpStatusCode.NotFound),
        new("PUT", $"/api/v1/applications/{Id}", [Caller.Business], HttpStatusCode.NotFound, "{}"),
        new("POST", $"/api/v1/applications/{Id}/submit", [Caller.Business], HttpStatusCode.NotFound),
        new("GET", "/api/v1/committee/applications", [Caller.Committee]),
        new("GET", $"/api/v1/committee/applications/{Id}", [Caller.Committee], HttpStatusCode.NotFound),
        new("POST", $"/api/v1/committee/applications/{Id}/votes", [Caller.Committee], HttpStatusCode.NotFound, "{\"vote\":\"approve\",\"reason\":\"probe\"}"),
        new("POST", $"/api/v1/committee/applications/{Id}/decision", [Caller.Committee], HttpStatusCode.NotFound, "{\"note\":\"probe\"}"),
        new("GET", $"/api/v1/committee/grants/{Id}", [Caller.Committee], HttpStatusCode.NotFound),
        new("POST", $"/api/v1/committee/grants/{Id}/suspend", [Caller.Committee], HttpStatusCode.NotFound, "{\"reason\":\"probe\"}"),
        new("POST", $"/api/v1/committee/grants/{Id}/reinstate", [Caller.Committee], HttpStatusCode.NotFound, "{\"reason\":\"probe\"}"),
        new("POST", $"/api/v1/committee/grants/{Id}/revoke", [Caller.Committee], HttpStatusCode.NotFound, "{\"reason\":\"probe\"}"),

        // Audit: the auditor's read-only trail; the checkpoint keys are public.
        new("GET", "/api/v1/audit/keys", Anyone),
        new("GET", "/api/v1/audit/checkpoints", [Caller.Auditor]),
        new("GET", "/api/v1/audit/checkpoints/latest", [Caller.Auditor], HttpStatusCode.NotFound),
        new("GET", "/api/v1/audit/entries", [Caller.Auditor]),
        new("GET", "/api/v1/audit/entries/999999999", [Caller.Auditor], HttpStatusCode.NotFound),
        new("GET", "/api/v1/audit/proofs/inclusion", [Caller.Auditor], HttpStatusCode.BadRequest),
        new("GET", "/api/v1/audit/proofs/consistency", [Caller.Auditor], HttpStatusCode.BadRequest),
        new("GET", "/api/v1/audit/export?upto=0", [Caller.Auditor]),
        new("GET", "/api/v1/audit/signer", [Caller.Auditor]),
        new("GET", "/api/v1/me/audit/proofs/0", [Caller.Resident], HttpStatusCode.NotFound),

        // Access: the resident's passbook; the committee's access log and alerts; the grants'
        // brokered reads and aggregates are the business's.
        new("GET", "/api/v1/me/passbook", [Caller.Resident]),
        new("GET", "/api/v1/committee/access-log", [Caller.Committee]),
        new("GET", "/api/v1/committee/alerts", [Caller.Committee]),
        new("GET", $"/api/v1/grants/{Id}/records", [Caller.Business], HttpStatusCode.NotFound),
        new("POST", $"/api/v1/grants/{Id}/aggregates", [Caller.Business], HttpStatusCode.NotFound, "{\"category\":\"steps.daily\"}"),
    ];
}
