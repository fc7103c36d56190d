using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Hangfire;
using InfoBank.Core.Crypto;
using InfoBank.Core.Custody;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Infrastructure.Web;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Custody;

/// <summary>One version of the custody terms, with what it changed and whether that asks residents to agree again.</summary>
public sealed record TermsVersionView(string Version, string Hash, DateOnly EffectiveFrom, bool Material, TermsChanges Changes);

/// <param name="Current">Whether this is the version residents agree to now.</param>
/// <param name="History">Every version, oldest first; each stays readable with <c>?version=</c>.</param>
public sealed record TermsResponse(string Version, string Hash, DateOnly EffectiveFrom, bool Material, TermsChanges Changes, bool Current, string Text,
    IReadOnlyList<TermsVersionView> History);

public sealed record EnrollmentRequest(string? TermsVersion, string? TermsHash, bool? Agree);

/// <param name="CurrentTermsVersion">The version residents agree to now.</param>
/// <param name="AgreeAgain">Whether the terms changed in what the resident agreed to since they agreed: nothing more is
/// deposited for them until they agree to the current version (POST /api/v1/me/enrollment).</param>
public sealed record EnrollmentView(string Status, string? TermsVersion, string? TermsHash, DateTimeOffset? EnrolledAt, DateTimeOffset? ErasedAt,
    string CurrentTermsVersion, bool AgreeAgain);

public sealed record SourceView(string ClientId, string? DisplayName, string ResidentRef, IReadOnlyList<string> Categories, DateTimeOffset LinkedAt, DateTimeOffset UpdatedAt);

public sealed record ProfileResponse(Guid AccountId, EnrollmentView Enrollment, IReadOnlyList<SourceView> Sources);

public sealed record LinkRequest(IReadOnlyList<string>? Categories);

/// <summary>A stored record; <c>expiresAt</c> is when its category's retention ends and it leaves custody.</summary>
/// <summary>
/// One of your records. <c>integrity</c> is <c>intact</c>, or <c>failed</c> when the stored bytes no
/// longer authenticate (corruption or tampering): then <c>payload</c> is null, the record is withheld
/// from every recipient, and the operator has been alerted.
/// </summary>
public sealed record RecordView(Guid Id, string Category, DateTimeOffset ObservedAt, DateTimeOffset StoredAt, string Source, string SourceRecordId, JsonElement? Payload, DateTimeOffset ExpiresAt,
    string Integrity);

/// <summary>Where a page of the resident's records ends, in (observed at, id) order: the cursor of the record list.</summary>
public sealed record RecordPosition(DateTimeOffset ObservedAt, Guid Id);

public sealed record ErasureResponse(Guid ErasureId, DateTimeOffset ErasedAt, string Status, string Detail);

/// <summary>The resident confirms erasure by naming their own account (the username they sign in with).</summary>
public sealed record EraseRequest(string? ConfirmAccount);

public sealed record InventoryResponse(int Version, string ContentHash, IReadOnlyList<InventoryCategory> Categories);

/// <summary>Custody's HTTP surface: enrolment, linked sources, deposits, reading, export and erasure.</summary>
public static class CustodyApi
{
    public static void MapCustodyApi(this IEndpointRouteBuilder routes)
    {
        var open = routes.MapGroup("/api/v1").WithTags("Custody");
        open.MapGet("/custody/terms", GetTerms).AllowAnonymous().WithName("GetCustodyTerms").ProducesProblems(ProblemTypes.NotFound)
            .WithSummary("The custody terms residents agree to when enrolling (?version= for an earlier one), with the history of every version.");
        open.MapGet("/inventory", GetInventory).AllowAnonymous().WithName("GetDataInventory").ProducesProblems()
            .WithSummary("The data inventory: every category with its fields, whether it needs special care, and its retention in days.");

        var me = routes.MapGroup("/api/v1/me").WithTags("Custody").RequireAuthorization(AuthPolicies.Resident);
        me.MapGet("/", GetProfile).WithName("GetMyProfile").ProducesProblems().WithSummary("Your enrolment (terms agreed, whether to agree again) and linked data sources.");
        me.MapPost("/enrollment", Enrol).WithName("Enrol").ProducesProblems(ProblemTypes.AgreementRequired, ProblemTypes.TermsNotCurrent)
            .WithSummary("Enrol by agreeing to the current custody terms (name their version and hash); again after a material change.");
        me.MapPut("/sources/{clientId}", LinkSource).WithName("LinkSource").ProducesProblems(ProblemTypes.CategoriesNotLinkable, ProblemTypes.NotEnrolled, ProblemTypes.NotFound, ProblemTypes.NotADataSource)
            .WithSummary("Allow a data source to deposit the categories you name; returns the pseudonymous reference to hand it.");
        me.MapDelete("/sources/{clientId}", UnlinkSource).WithName("UnlinkSource").ProducesProblems(ProblemTypes.NotFound).WithSummary("Stop a data source from depositing, at once.");
        me.MapGet("/records", ListRecords).WithName("ListMyRecords").ProducesProblems().WithSummary("Your deposited records, decrypted, a page at a time.");
        me.MapGet("/export", Export).WithName("ExportMyData").ProducesProblems().WithSummary("Everything held about you as one JSON document, streamed; it ends with \"complete\": true.");
        me.MapDelete("/", Erase).WithName("EraseMe").ProducesProblems(ProblemTypes.ReauthenticationRequired, ProblemTypes.ConfirmationRequired, ProblemTypes.NotFound)
            .WithSummary("Erase your account: withdraws every consent and destroys your keys. Needs confirmAccount and a recent sign-in.").WithRequestBodyLimit(4 * 1024);

        routes.MapGroup("/api/v1/records").WithTags("Custody").RequireAuthorization(AuthPolicies.DataSource)
            .MapPost("/", Deposit).WithName("DepositRecords").ProducesProblems(ProblemTypes.TooManyRecords, ProblemTypes.DepositRefused, ProblemTypes.OutsideRetention)
            .WithSummary("A data source deposits a batch of records for residents who linked it: all stored (or reported duplicate) or none.")
            .WithRequestBodyLimit(routes.ServiceProvider.GetRequiredService<IOptions<CustodyOptions>>().Value.MaxBatchBytes);
    }

    public static Results<Ok<TermsResponse>, ProblemHttpResult> GetTerms(CustodyTermsCatalog catalog, string? version)
    {
        var terms = version is null ? catalog.Current : catalog.Find(version);
        if (terms is null)
        {
            return ProblemTypes.NotFound.Result(
                $"There is no version '{(version!.Length > 40 ? version[..40] + "…" : version)}' of the custody terms; the history lists every version.");
        }
        return TypedResults.Ok(new TermsResponse(terms.Version, terms.Hash, terms.EffectiveFrom, terms.Material, terms.Changes, terms == catalog.Current, terms.Text,
            [.. catalog.Versions.Select(v => new TermsVersionView(v.Version, v.Hash, v.EffectiveFrom, v.Material, v.Changes))]));
    }

    public static Ok<InventoryResponse> GetInventory(DataInventory inventory) =>
        TypedResults.Ok(new InventoryResponse(inventory.Version, inventory.ContentHash, inventory.Categories.Values.OrderBy(c => c.Name, StringComparer.Ordinal).ToList()));

    public static async Task<Ok<ProfileResponse>> GetProfile(ClaimsPrincipal user, CustodyStore store, IClientDirectory clients, CustodyTermsCatalog catalog,
        CancellationToken cancellationToken)
    {
        var residentId = user.AccountId();
        var resident = await store.FindResidentAsync(residentId, cancellationToken);
        var links = await store.ListLinksAsync(residentId, cancellationToken);
        var sources = new List<SourceView>(links.Count);
        foreach (var link in links)
        {
            sources.Add(await ViewAsync(link, clients, cancellationToken));
        }
        return TypedResults.Ok(new ProfileResponse(residentId, View(resident, catalog), sources));
    }

    public static async Task<Results<Ok<EnrollmentView>, Created<EnrollmentView>, ProblemHttpResult>> Enrol(
        EnrollmentRequest request, ClaimsPrincipal user, ResidentCustodyService custody, CustodyTermsCatalog catalog, CancellationToken cancellationToken)
    {
        var terms = catalog.Current;
        var errors = new Dictionary<string, string[]>();
        if (request.Agree is not true)
        {
            errors["agree"] = ["Enrolment needs your explicit agreement to the custody terms: send \"agree\": true."];
        }
        if (string.IsNullOrWhiteSpace(request.TermsVersion))
        {
            errors["termsVersion"] = ["The version of the terms you were shown is required."];
        }
        if (string.IsNullOrWhiteSpace(request.TermsHash))
        {
            errors["termsHash"] = ["The content hash of the terms you were shown is required."];
        }
        if (errors.Count > 0)
        {
            return Unprocessable(ProblemTypes.AgreementRequired, "Enrolment refused", errors);
        }
        if (request.TermsVersion != terms.Version || request.TermsHash != terms.Hash)
        {
            return ProblemTypes.TermsNotCurrent.Result(
                $"You agreed to terms {Shorten(request.TermsVersion)} ({Shorten(request.TermsHash)}), but the current terms are {terms.Version} ({terms.Hash}). Read GET /api/v1/custody/terms and agree to those.");
        }
        var (resident, newly) = await custody.EnrolAsync(user.AccountId(), terms, cancellationToken);
        var view = View(resident, catalog);
        return newly ? TypedResults.Created("/api/v1/me", view) : TypedResults.Ok(view);
    }

    public static async Task<Results<Ok<SourceView>, Created<SourceView>, ProblemHttpResult>> LinkSource(
        string clientId, LinkRequest request, ClaimsPrincipal user, ResidentCustodyService custody, DataInventory inventory, CancellationToken cancellationToken)
    {
        var categories = request.Categories ?? [];
        var errors = new Dictionary<string, string[]>();
        if (categories.Count == 0)
        {
            errors["categories"] = ["Name at least one category this source may deposit."];
        }
        for (var i = 0; i < categories.Count; i++)
        {
            if (inventory.Find(categories[i] ?? "") is null)
            {
                errors[$"categories[{i}]"] = [$"Unknown category '{categories[i]}'; known: {string.Join(", ", inventory.Categories.Keys)}."];
            }
            else if (categories.Take(i).Contains(categories[i], StringComparer.Ordinal))
            {
                errors[$"categories[{i}]"] = ["The category is listed twice."];
            }
        }
        if (errors.Count > 0)
        {
            return Unprocessable(ProblemTypes.CategoriesNotLinkable, "Link refused", errors);
        }
        var linked = await custody.LinkAsync(user.AccountId(), clientId, categories, cancellationToken);
        if (!linked.Succeeded)
        {
            return linked.Refusal.ToResult();
        }
        var (link, created, displayName) = linked.Value!;
        var view = ToView(link, displayName);
        return created ? TypedResults.Created($"/api/v1/me/sources/{Uri.EscapeDataString(clientId)}", view) : TypedResults.Ok(view);
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> UnlinkSource(string clientId, ClaimsPrincipal user, ResidentCustodyService custody, CancellationToken cancellationToken) =>
        await custody.UnlinkAsync(user.AccountId(), clientId, cancellationToken)
            ? TypedResults.NoContent()
            : Refusal.Of(ProblemTypes.NotFound, $"You have not linked the data source '{Shorten(clientId)}'.").ToResult();

    public static async Task<Results<Ok<Page<RecordView>>, ProblemHttpResult>> ListRecords(
        ClaimsPrincipal user, HttpContext context, RecordVault vault, DataInventory inventory,
        string? category, DateTimeOffset? from, DateTimeOffset? to, int? limit, string? cursor, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (category is not null && inventory.Find(category) is null)
        {
            errors["category"] = [$"Unknown category '{category}'; known: {string.Join(", ", inventory.Categories.Keys)}."];
        }
        if (from is not null && to is not null && from > to)
        {
            errors["from"] = ["'from' is after 'to'."];
        }
        if (errors.Count > 0)
        {
            return Refusal.Of(ProblemTypes.InvalidParameter, errors).ToResult();
        }
        if (!Paging.TryRead<RecordPosition>(limit, cursor, out var size, out var after, out var problem))
        {
            return problem!;
        }
        var rows = await vault.ListAsync(user.AccountId(), new RecordQuery(category, from?.ToUniversalTime(), to?.ToUniversalTime(), after?.ObservedAt, after?.Id, size + 1), cancellationToken);
        var (page, more) = Paging.Split(rows, size);
        return Paging.Result(context, page.Select(ToView).ToList(), more ? new RecordPosition(page[^1].ObservedAt, page[^1].Id) : null);
    }

    public static async Task<PushStreamHttpResult> Export(
        ClaimsPrincipal user, HttpContext context, ResidentExporter exporter, TimeProvider time, ILogger<CustodyJobs> logger, CancellationToken cancellationToken)
    {
        var residentId = user.AccountId();
        await exporter.PrepareAsync(residentId, cancellationToken);
        return TypedResults.Stream(
            async stream =>
            {
                try
                {
                    await exporter.WriteAsync(residentId, stream, cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The status line has gone: abort the connection so the client sees a failed
                    // transfer (no final chunk), never a document that merely ends early.
                    CustodyApiLog.ExportAborted(logger, ex.GetType().Name);
                    context.Abort();
                }
            },
            "application/json",
            $"infobank-export-{time.GetUtcNow():yyyyMMdd}.json");
    }

    public static async Task<Results<Ok<ErasureResponse>, ProblemHttpResult>> Erase(
        [FromBody] EraseRequest? request, ClaimsPrincipal user, HttpContext context, AccountService accounts, ResidentCustodyService custody,
        IBackgroundJobClient jobs, TimeProvider time, IOptions<CustodyOptions> options, ILogger<CustodyJobs> logger, CancellationToken cancellationToken)
    {
        var residentId = user.AccountId();
        // Recent sign-in first: a stale session learns nothing, not even whether its confirmation was right.
        var maxAge = options.Value.ErasureMaxAuthAgeSeconds;
        if (user.AuthenticatedAt() is not { } signedIn || time.GetUtcNow() - signedIn > TimeSpan.FromSeconds(maxAge))
        {
            context.Response.Headers.WWWAuthenticate =
                $"Bearer error=\"insufficient_user_authentication\", error_description=\"Erasure needs a sign-in within the last {maxAge} seconds\", max_age={maxAge}";
            return ProblemTypes.ReauthenticationRequired.Result(
                $"Erasure destroys your data for good, so it needs a sign-in within the last {maxAge} seconds. Sign in again (max_age={maxAge}) and retry.");
        }
        var account = await accounts.FindActiveAsync(residentId, cancellationToken);
        if (account is null || !string.Equals(request?.ConfirmAccount, account.Username, StringComparison.Ordinal))
        {
            return ProblemTypes.ConfirmationRequired.Result(
                "To erase your data, send {\"confirmAccount\": \"<your username>\"}: the username you sign in with, exactly as it is. Nothing was changed.");
        }
        var erasure = await custody.EraseAsync(residentId, cancellationToken);
        if (erasure is null)
        {
            return Refusal.Of(ProblemTypes.NotFound, "There is nothing to erase: you are not enrolled (or already erased).").ToResult();
        }
        try
        {
            jobs.Enqueue<CustodyJobs>(j => j.SweepErasureAsync(erasure.Id, CancellationToken.None));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The erasure is committed and the keys are gone; the sweep only deletes unreadable rows,
            // and the recurring custody-sweep-erasures job finds every pending erasure. A job store
            // that cannot take the job now must not turn a completed erasure into an error.
            CustodyApiLog.SweepNotQueued(logger, ex, erasure.Id);
        }
        return TypedResults.Ok(new ErasureResponse(
            erasure.Id, erasure.ErasedAt, ResidentStatus.Erased,
            "Your data keys were destroyed: nothing held about you can be decrypted any more. The remaining ciphertext is deleted in the background."));
    }

    public static async Task<Results<Ok<DepositResponse>, ProblemHttpResult>> Deposit(
        DepositRequest request, ClaimsPrincipal user, DepositService deposits, CancellationToken cancellationToken) =>
        (await deposits.DepositAsync(user.ClientId(), request, cancellationToken)).ToOk();

    private static ProblemHttpResult Unprocessable(ProblemType type, string what, IDictionary<string, string[]> errors) =>
        Refusal.Of(type, errors, $"{what}: " + string.Join(" ", errors.Take(5).Select(e => $"{e.Key}: {e.Value[0]}")) + (errors.Count > 5 ? " …" : "")).ToResult();

    // Echoed input is bounded, so a problem never repeats a large body back.
    private static string Shorten(string? value) => value is null ? "" : value.Length > 80 ? value[..80] + "…" : value;

    private static EnrollmentView View(ResidentRow? resident, CustodyTermsCatalog catalog) => resident is null
        ? new EnrollmentView("not-enrolled", null, null, null, null, catalog.Current.Version, false)
        : new EnrollmentView(resident.Status, resident.TermsVersion, resident.TermsHash, resident.EnrolledAt, resident.ErasedAt, catalog.Current.Version,
            resident.Status == ResidentStatus.Enrolled && catalog.AgreementNeeded(resident.TermsVersion) is not null);

    private static async Task<SourceView> ViewAsync(SourceLink link, IClientDirectory clients, CancellationToken cancellationToken) =>
        ToView(link, (await clients.FindAsync(link.ClientId, cancellationToken))?.DisplayName);

    private static SourceView ToView(SourceLink link, string? displayName) =>
        new(link.ClientId, displayName, link.ResidentRef, link.Categories, link.LinkedAt, link.UpdatedAt);

    private static RecordView ToView(OpenedRecord record)
    {
        if (record.Integrity == RecordIntegrity.Failed)
        {
            return new RecordView(record.Id, record.Category, record.ObservedAt, record.StoredAt, record.Source, record.SourceRecordId, null, record.ExpiresAt, "failed");
        }
        using var payload = JsonDocument.Parse(record.Payload);
        return new RecordView(record.Id, record.Category, record.ObservedAt, record.StoredAt, record.Source, record.SourceRecordId, payload.RootElement.Clone(), record.ExpiresAt, "intact");
    }
}

internal static partial class CustodyApiLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Erasure {ErasureId}: the sweep could not be queued now; the recurring sweep will delete the rows")]
    public static partial void SweepNotQueued(ILogger logger, Exception exception, Guid erasureId);

    [LoggerMessage(Level = LogLevel.Error, Message = "A resident's export failed after it had started ({ExceptionType}); the connection was aborted")]
    public static partial void ExportAborted(ILogger logger, string exceptionType);
}
