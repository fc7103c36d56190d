using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace InfoBank.Server.Infrastructure.Errors;

/// <summary>
/// One kind of error a client can tell apart without parsing English: the RFC 9457 <c>type</c>
/// (<c>/problems/{slug}</c>, documented at that path on every deployment), its status and title.
/// </summary>
public sealed record ProblemType(string Slug, int Status, string Title, string Description)
{
    /// <summary>The <c>type</c> member: a relative reference, resolved against the server that answered.</summary>
    public string Uri => "/problems/" + Slug;

    /// <summary>A problem of this type for an endpoint's typed result (see <see cref="Refusal"/>, which this is short for).</summary>
    public ProblemHttpResult Result(string detail, IDictionary<string, object?>? extensions = null) =>
        Refuse(detail, extensions).ToResult();

    /// <summary>The body, for code that writes it itself (middleware, exception handlers).</summary>
    public ProblemDetails ToDetails(string detail, IDictionary<string, object?>? extensions = null) =>
        Refuse(detail, extensions).ToDetails();

    /// <summary>A validation problem (the <c>errors</c> member keyed by JSON path or parameter) of this type.</summary>
    public ProblemHttpResult Validation(IDictionary<string, string[]> errors, string detail) =>
        Refusal.Of(this, errors, detail).ToResult();

    private Refusal Refuse(string detail, IDictionary<string, object?>? extensions) =>
        new(this, detail) { Extensions = extensions is null ? null : new Dictionary<string, object?>(extensions, StringComparer.Ordinal) };
}

/// <summary>
/// Every problem type the API answers with. Features add theirs here, so the list stays complete
/// and <c>GET /problems</c> documents each. Slugs are stable: clients match on them.
/// </summary>
public static partial class ProblemTypes
{
    // ---- requests the HTTP layer refuses before any feature sees them ----
    public static readonly ProblemType MalformedRequest = new("malformed-request", 400, "Malformed request",
        "The request could not be read: invalid JSON, a wrong type for a member, an unknown member, a duplicate key, or a missing required value. The detail names the JSON path.");

    public static readonly ProblemType InvalidParameter = new("invalid-parameter", 400, "Invalid parameter",
        "A query or route parameter is out of range or malformed. `errors` names each one.");

    public static readonly ProblemType DotSegment = new("dot-segment", 400, "Dot segment in the path",
        "The request target contains a `.` or `..` segment (also percent-encoded). Such paths are refused rather than normalised, so a request can never reach a different route than the one written.");

    public static readonly ProblemType TokenInUrl = new("token-in-url", 400, "Token outside the Authorization header",
        "An access token was sent in the query string or a form body. Send it only as `Authorization: Bearer …`; URLs and bodies end up in logs and histories.");

    public static readonly ProblemType BodyTooLarge = new("body-too-large", 413, "Request body too large",
        "The body exceeds this endpoint's limit.");

    public static readonly ProblemType UnsupportedMediaType = new("unsupported-media-type", 415, "Unsupported media type",
        "The body's Content-Type (or its charset) is not one this endpoint reads. JSON bodies are `application/json`, UTF-8.");

    public static readonly ProblemType NotFound = new("not-found", 404, "Not found",
        "There is no such resource for you. Another caller's resource answers the same as one that does not exist.");

    public static readonly ProblemType MethodNotAllowed = new("method-not-allowed", 405, "Method not allowed",
        "The path exists but not with this method; the Allow header lists the ones it takes.");

    public static readonly ProblemType Unauthenticated = new("unauthenticated", 401, "Authentication required",
        "The request needs a valid bearer token (missing, malformed, expired or revoked).");

    public static readonly ProblemType Forbidden = new("forbidden", 403, "Not allowed",
        "The token is valid but does not allow this operation.");

    public static readonly ProblemType RateLimited = new("rate-limited", 429, "Too many requests",
        "Too many requests from this address or client; retry after the number of seconds in Retry-After.");

    public static readonly ProblemType Conflict = new("conflict", 409, "Conflict",
        "The request is valid but conflicts with the resource's current state (a concurrent change, or it was already done). Read the resource again.");

    public static readonly ProblemType Refused = new("refused", 422, "Refused",
        "The request is well-formed but the domain refuses it; the detail says why.");

    // ---- residents ----
    public static readonly ProblemType NotEnrolled = new("not-enrolled", 409, "Not enrolled",
        "The resident has not agreed to the custody terms (or has erased their account): enrol first with POST /api/v1/me/enrollment.");

    public static readonly ProblemType AccountErased = new("account-erased", 401, "Account erased",
        "The bearer token was issued to an account that has since been erased: it authorises nothing any more, and the account cannot sign in again (its username, password and tokens are gone). Nothing was changed.");

    public static readonly ProblemType TermsNotCurrent = new("terms-not-current", 409, "Not the current custody terms",
        "The enrolment named a version or content hash of the custody terms that is not the current one: read GET /api/v1/custody/terms (its `history` lists every version and what it changed) and agree to the current version.");

    public static readonly ProblemType AgreementRequired = new("agreement-required", 422, "Agreement required",
        "Enrolment needs the resident's explicit agreement (`agree`: true) to the custody terms they were shown, named by `termsVersion` and `termsHash`. `errors` names what is missing; nothing was recorded.");

    public static readonly ProblemType CategoriesNotLinkable = new("categories-not-linkable", 422, "Categories cannot be linked",
        "A link names the data categories the source may deposit: at least one, each in the data inventory (GET /api/v1/inventory), none twice. `errors` names each problem; nothing was changed.");

    // ---- data windows (applications, offers, consent) ----
    public static readonly ProblemType LookbackOutOfRange = new("lookback-out-of-range", 422, "Look-back out of range",
        "The application's `lookbackDays` (how many days before a resident's first consent the data provided may reach back) must be between 0 (from the day they consent) and 365. Nothing was stored.");

    public static readonly ProblemType ConsentWindowNotOffered = new("consent-window-not-offered", 422, "Data window not offered",
        "The consent named a data window (`lookbackDays`) other than the one the offer's notice states (GET /api/v1/offers/{id}: `dataWindow`). Consent to the window offered, or omit `lookbackDays`; nothing was recorded.");

    // ---- the committee ----
    public static readonly ProblemType PolicyDenies = new("policy-denies", 409, "The committee policy denies this now",
        "Approving this version would break the committee policy as it stands with the recipient's grants in force now (for example POL-FORBID-005: the recipient already holds a grant over the same data where one of the two is an aggregate, so the two answers could be subtracted). `rules` lists the forbidding rule ids. Nothing was recorded: reject the application, or end the other grant first.");

    // ---- consent (a client tells these apart by type alone) ----
    public static readonly ProblemType OfferNotOpen = new("offer-not-open", 409, "Offer not open",
        "The offer is suspended, revoked or expired, or it is outside the period its notice states: nobody can consent to it now. Nothing was recorded.");

    public static readonly ProblemType NoticeNotCurrent = new("notice-not-current", 409, "Not the current notice",
        "The consent named a notice version (or notice hash) that is not the offer's current one: read GET /api/v1/offers/{id} and consent to the version it shows. Nothing was recorded.");

    public static readonly ProblemType AlreadyConsented = new("already-consented", 409, "Already consented",
        "You already hold an active consent to this offer; the detail names it. Nothing was recorded.");

    public static readonly ProblemType ConsentEnded = new("consent-ended", 409, "Consent already ended",
        "The consent was already withdrawn, expired, revoked or invalidated, so it cannot be withdrawn again. Nothing was recorded.");

    public static readonly ProblemType SpecialCareNotNamed = new("special-care-not-named", 422, "Special-care items not named",
        "The offer involves special-care data: consent must name each of its special-care items (`specialCareItems`), and only those. Nothing was recorded.");

    // ---- applications and grants (the committee workflow) ----
    public static readonly ProblemType WrongState = new("wrong-state", 409, "Not allowed in the current state",
        "The application or grant is not in a state that allows this step (editing a submitted version, voting outside review, reinstating an active grant), or it changed while the request was handled. Read it again.");

    public static readonly ProblemType RoleNotAllowed = new("role-not-allowed", 403, "Not allowed for your committee role",
        "The committee policy (`governance` in policies.yaml) does not let your committee role take this step.");

    public static readonly ProblemType AlreadyDone = new("already-done", 409, "Already done",
        "The step would repeat one already taken (a second vote by the same member on the same version). Nothing was recorded.");

    public static readonly ProblemType NoQuorum = new("no-quorum", 409, "No quorum",
        "The votes cast do not yet allow a decision under the committee policy (too few votes, or a tie the chair has not broken). Nothing was recorded.");

    public static readonly ProblemType DraftNoLongerValid = new("draft-no-longer-valid", 422, "The saved draft no longer fits the rule files",
        "The draft was valid when it was saved, but the rule files changed since (a category, field or purpose renamed or removed). `errors` names each problem: edit the draft with PUT and submit again. Nothing was submitted.");

    // ---- brokered access (grants in use) ----
    public static readonly ProblemType GrantInactive = new("grant-inactive", 403, "The grant cannot be used",
        "The grant is suspended, revoked or expired (or not yet valid): it provides nothing now. The attempt is logged.");

    public static readonly ProblemType AccessKindNotApproved = new("access-kind-not-approved", 403, "Not the access this grant approves",
        "Record pages were asked of an aggregate-only grant, or aggregates of a record-level grant. Use the kind of access the grant was approved for.");

    public static readonly ProblemType FetchesExhausted = new("fetches-exhausted", 403, "The grant's approved fetches are used up",
        "A once-only grant has been fetched already; it provides nothing more.");

    public static readonly ProblemType OverApprovedFrequency = new("over-approved-frequency", 429, "Over the approved fetch frequency or volume",
        "The grant's approved fetch frequency or per-fetch volume is reached; retry after the number of seconds in Retry-After (also `retryAfterSeconds`).");

    public static readonly ProblemType AggregateNotApproved = new("aggregate-not-approved", 422, "Aggregate not approved",
        "The aggregate query is well-formed but asks for a category, field, dimension or filter the grant did not approve. `errors` names each one; nothing was counted or released.");

    // ---- data sources ----
    public static readonly ProblemType OutsideRetention = new("outside-retention", 422, "Outside retention",
        "Every refused record of the deposit was observed longer ago than its category keeps data (`retentionDays` in GET /api/v1/inventory): such a record would be deleted at once, so it is not stored. `errors` names each record's `observedAt`; nothing of the batch was stored.");

    public static readonly ProblemType TooManyRecords = new("too-many-records", 413, "Too many records",
        "The deposit batch has more records than one request accepts (`Custody:MaxBatchRecords`); split it. Nothing was stored.");

    public static readonly ProblemType DepositRefused = new("deposit-refused", 422, "Deposit refused",
        "Records of the batch cannot be stored (unknown or unlinked resident, category not authorised, terms to agree again, an invalid payload or time). `errors` names each by JSON path; nothing of the batch was stored.");

    public static readonly ProblemType NotADataSource = new("not-a-data-source", 422, "Not a data source",
        "The client named is registered, but not as a data source, so it cannot be linked to deposit data.");

    public static readonly ProblemType ConfirmationRequired = new("confirmation-required", 400, "Confirmation required",
        "An irreversible operation needs an explicit confirmation in the request body (for erasure: the account's username in `confirmAccount`).");

    public static readonly ProblemType ReauthenticationRequired = new("reauthentication-required", 401, "Sign in again",
        "The operation needs a recent sign-in. The WWW-Authenticate header carries an RFC 9470 challenge (`insufficient_user_authentication`, `max_age`): send the person through /connect/authorize with that max_age and retry with the new token.");

    public static readonly ProblemType NotYetCheckpointed = new("not-yet-checkpointed", 409, "Not yet covered by a checkpoint",
        "The audit entry exists but no signed checkpoint covers it yet, so there is nothing to prove it against. Checkpoints are signed every few seconds: retry shortly.");

    public static readonly ProblemType StorageUnavailable = new("storage-unavailable", 503, "Storage unavailable",
        "The database or the data folder could not take the change (busy, full or read-only). Nothing was changed; retry after the number of seconds in Retry-After.");

    public static readonly ProblemType Internal = new("internal", 500, "Internal error",
        "An unexpected error. Nothing in the answer describes it; the traceId lets an operator find it in the logs.");

    private static IReadOnlyDictionary<string, ProblemType>? _all;

    /// <summary>
    /// The type given to a problem that named none (the framework's own 401/404/405 answers, status
    /// code pages, validation problems): the generic type of its status.
    /// </summary>
    public static ProblemType? ForStatus(int status) => status switch
    {
        400 => MalformedRequest,
        401 => Unauthenticated,
        403 => Forbidden,
        404 => NotFound,
        405 => MethodNotAllowed,
        409 => Conflict,
        413 => BodyTooLarge,
        415 => UnsupportedMediaType,
        422 => Refused,
        429 => RateLimited,
        500 => Internal,
        503 => StorageUnavailable,
        _ => null,
    };

    /// <summary>
    /// Every type above and in the other parts of this class, by slug. Built on first use, after the
    /// type initializer has set the fields of every part (their order across files is unspecified).
    /// </summary>
    public static IReadOnlyDictionary<string, ProblemType> All => _all ??= typeof(ProblemTypes)
        .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
        .Where(f => f.FieldType == typeof(ProblemType))
        .Select(f => (ProblemType)f.GetValue(null)!)
        .ToDictionary(t => t.Slug, StringComparer.Ordinal);
}

/// <summary>
/// <c>GET /problems</c> and <c>GET /problems/{slug}</c>: what each problem <c>type</c> means, so the
/// type in an error answer can be looked up on the server that gave it. Anonymous, like the API reference.
/// </summary>
public static class ProblemTypesApi
{
    public sealed record ProblemTypeResponse(string Type, int Status, string Title, string Description);

    public static void MapProblemTypesApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/problems").WithTags("Problems").AllowAnonymous();
        group.MapGet("/", List).WithName("ListProblemTypes").ProducesProblems().WithSummary("Every problem type the API answers with.");
        group.MapGet("/{slug}", Get).WithName("GetProblemType").ProducesProblems(ProblemTypes.NotFound).WithSummary("What one problem type means.");
    }

    public static Ok<IReadOnlyList<ProblemTypeResponse>> List() =>
        TypedResults.Ok<IReadOnlyList<ProblemTypeResponse>>(ProblemTypes.All.Values.OrderBy(t => t.Slug, StringComparer.Ordinal).Select(From).ToList());

    public static Results<Ok<ProblemTypeResponse>, ProblemHttpResult> Get(string slug) =>
        ProblemTypes.All.TryGetValue(slug, out var type)
            ? TypedResults.Ok(From(type))
            : ProblemTypes.NotFound.Result($"There is no problem type '{slug}'; GET /problems lists them.");

    private static ProblemTypeResponse From(ProblemType type) => new(type.Uri, type.Status, type.Title, type.Description);
}
