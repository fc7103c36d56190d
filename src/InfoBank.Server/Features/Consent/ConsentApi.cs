using System.Security.Claims;
using System.Text.Json.Serialization;
using InfoBank.Core;
using InfoBank.Core.Consent;
using InfoBank.Server.Infrastructure.Auth;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Infrastructure.Web;
using Microsoft.AspNetCore.Http.HttpResults;

namespace InfoBank.Server.Features.Consent;

public sealed record PurposeResponse(string Code, LocalizedText Label, LocalizedText Text);

public sealed record BenefitResponse(int Points, LocalizedText Text);

public sealed record NoticeVersionResponse(int Version, string Hash, DateTimeOffset PublishedAt);

/// <summary>The notice's data window: from how many days before a resident's first consent data is provided, in plain language.</summary>
public sealed record DataWindowResponse(int LookbackDays, LocalizedText Text)
{
    public static DataWindowResponse From(Notice notice) => new(notice.EffectiveLookbackDays, NoticeDataWindow.Text(notice.EffectiveLookbackDays));
}

/// <summary>An offer with its notice (ISO/IEC 29184 contents) at one version.</summary>
public sealed record OfferResponse(
    Guid OfferId,
    Guid GrantId,
    string Status,
    int NoticeVersion,
    string NoticeHash,
    Recipient Recipient,
    PurposeResponse Purpose,
    IReadOnlyList<string> Items,
    IReadOnlyList<string> SpecialCareItems,
    bool InvolvesSpecialCareData,
    string Granularity,
    DateTimeOffset ValidFrom,
    DateTimeOffset ValidUntil,
    DataWindowResponse DataWindow,
    int RetentionDays,
    BenefitResponse Benefit,
    LocalizedText Withdrawal,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<NoticeVersionResponse>? NoticeVersions = null)
{
    public static OfferResponse From(OfferTerms offer, Notice notice, int version, string hash, IReadOnlyList<NoticeVersionResponse>? versions = null) => new(
        offer.OfferId, offer.GrantId, offer.Status.ToString(), version, hash, notice.Recipient,
        new PurposeResponse(notice.PurposeCode, Purposes.Labels.GetValueOrDefault(notice.PurposeCode, notice.PurposeText), notice.PurposeText),
        notice.Items, notice.SpecialCareItems, notice.SpecialCareItems.Count > 0, notice.Granularity.ToString(),
        notice.ValidFrom, notice.ValidUntil, DataWindowResponse.From(notice), notice.RetentionDays, new BenefitResponse(notice.BenefitPoints, notice.BenefitText),
        notice.WithdrawalMethod, versions);
}

public sealed record ConsentResponse(
    Guid ConsentId,
    Guid OfferId,
    Guid GrantId,
    string State,
    int NoticeVersion,
    string NoticeHash,
    Recipient Recipient,
    PurposeResponse Purpose,
    IReadOnlyList<string> Items,
    IReadOnlyList<string> ExplicitlyConsentedItems,
    DateTimeOffset GivenAt,
    DateTimeOffset ExpiresAt,
    DateTimeOffset? EndedAt,
    string OfferStatus,
    int CurrentNoticeVersion,
    bool CanConsentAgain,
    IReadOnlyList<NoticeChange> ChangesSinceConsent,
    string Receipt)
{
    public static ConsentResponse From(ConsentView view)
    {
        var (consent, offer, notice) = (view.Consent, view.Offer, view.Notice);
        return new(consent.ConsentId, offer.OfferId, offer.GrantId, consent.State.ToString(), consent.NoticeVersion, view.NoticeHash,
            notice.Recipient,
            new PurposeResponse(notice.PurposeCode, Purposes.Labels.GetValueOrDefault(notice.PurposeCode, notice.PurposeText), notice.PurposeText),
            consent.Items, consent.ExplicitItems, consent.GivenAt, consent.ExpiresAt, consent.EndedAt,
            offer.Status.ToString(), offer.NoticeVersion,
            !consent.IsActive && offer.Status == Core.Consent.OfferStatus.Active,
            view.ChangesSinceConsent,
            $"/api/v1/me/consents/{consent.ConsentId}/receipt");
    }
}

/// <summary>
/// Consent to an offer: the notice version the resident read (and optionally its hash), the special-care
/// items they name, and optionally the data window they agree to (it must be the offer's; omitted, the offer's applies).
/// </summary>
public sealed record GiveConsentRequest(Guid OfferId, int NoticeVersion, string? NoticeHash = null, IReadOnlyList<string>? SpecialCareItems = null, int? LookbackDays = null);

/// <summary>A consent command's result: the consent and the signed receipt of its state after the command.</summary>
public sealed record ConsentWithReceipt(ConsentResponse Consent, SignedReceipt Receipt);

/// <summary>Offers (anonymous) and the resident's consents, withdrawals and receipts.</summary>
public static class ConsentApi
{
    private const int MaxNamedItems = 64;

    public static void MapConsentApi(this IEndpointRouteBuilder routes)
    {
        var offers = routes.MapGroup("/api/v1/offers").WithTags("Offers").AllowAnonymous();
        offers.MapGet("/", ListOffers).WithName("ListOffers").ProducesProblems()
            .WithSummary("Approved uses of data residents can opt into, each with its notice in Japanese and English.");
        offers.MapGet("/{offerId:guid}", GetOffer).WithName("GetOffer").ProducesProblems(ProblemTypes.NotFound)
            .WithSummary("One offer with its notice history; ?noticeVersion=n shows an earlier version of the notice.");

        var me = routes.MapGroup("/api/v1/me/consents").WithTags("Consent").RequireAuthorization(AuthPolicies.Resident);
        me.MapGet("/", ListConsents).WithName("ListMyConsents").ProducesProblems()
            .WithSummary("Your consents, current and past, newest first, a page at a time (limit, cursor; the next page's URL in next and the Link header), with their DPV state and what changed in offers you must consent to again.");
        me.MapPost("/", GiveConsent).WithName("GiveConsent").ProducesProblems(ProblemTypes.NotFound, ProblemTypes.NotEnrolled, ProblemTypes.OfferNotOpen, ProblemTypes.NoticeNotCurrent, ProblemTypes.AlreadyConsented, ProblemTypes.Conflict, ProblemTypes.SpecialCareNotNamed, ProblemTypes.ConsentWindowNotOffered)
            .WithSummary("Consent to one offer at its current notice version; special-care items must be named.")
            .WithRequestBodyLimit(8 * 1024);
        me.MapGet("/{consentId:guid}", GetConsent).WithName("GetMyConsent").ProducesProblems(ProblemTypes.NotFound)
            .WithSummary("One of your consents: its state, the notice version it was given under, the recipient, purpose and items, and when it ends.");
        me.MapDelete("/{consentId:guid}", WithdrawConsent).WithName("WithdrawConsent").ProducesProblems(ProblemTypes.NotFound, ProblemTypes.ConsentEnded, ProblemTypes.Conflict)
            .WithSummary("Withdraw a consent; no provision happens after this returns. Returns the withdrawal's receipt.");
        me.MapGet("/{consentId:guid}/receipt", GetReceipt).WithName("GetConsentReceipt").ProducesProblems(ProblemTypes.NotFound)
            .WithSummary("The consent receipt (ISO/IEC TS 27560 fields) as JSON and as a compact JWS signed with Ed25519.");
    }

    public static async Task<Results<Ok<Page<OfferResponse>>, ProblemHttpResult>> ListOffers(
        int? limit, string? cursor, HttpContext context, ConsentStore store, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!Paging.TryRead<OfferPosition>(limit, cursor, out var size, out var after, out var problem))
        {
            return problem!;
        }
        var (offers, next) = await store.Db.ReadAsync(s => store.ListOpenOffersAsync(s, time.GetUtcNow(), after, size), cancellationToken);
        return Paging.Result(context, offers.Select(o => OfferResponse.From(o, o.Notice, o.NoticeVersion, o.NoticeHash)).ToList(), next);
    }

    public static async Task<Results<Ok<OfferResponse>, ProblemHttpResult>> GetOffer(
        Guid offerId, int? noticeVersion, ConsentStore store, CancellationToken cancellationToken)
    {
        return await store.Db.ReadAsync<Results<Ok<OfferResponse>, ProblemHttpResult>>(async s =>
        {
            var offer = await store.FindOfferAsync(s, offerId);
            if (offer is null)
            {
                return NotFound($"There is no offer {offerId}.");
            }
            var versions = (await store.ListNoticeVersionsAsync(s, offerId))
                .Select(v => new NoticeVersionResponse(v.Version, v.Hash, v.PublishedAt)).ToList();
            if (noticeVersion is not { } version || version == offer.NoticeVersion)
            {
                return TypedResults.Ok(OfferResponse.From(offer, offer.Notice, offer.NoticeVersion, offer.NoticeHash, versions));
            }
            var notice = await store.FindNoticeAsync(s, offerId, version);
            return notice is null
                ? NotFound($"Offer {offerId} has no notice version {version}; its versions are 1 to {offer.NoticeVersion}.")
                : TypedResults.Ok(OfferResponse.From(offer, notice, version, NoticeCanonical.Hash(notice), versions));
        }, cancellationToken);
    }

    public static async Task<Results<Ok<Page<ConsentResponse>>, ProblemHttpResult>> ListConsents(
        int? limit, string? cursor, ClaimsPrincipal user, HttpContext context, ConsentService consents, CancellationToken cancellationToken)
    {
        if (!Paging.TryRead<ConsentPosition>(limit, cursor, out var size, out var after, out var problem))
        {
            return problem!;
        }
        var (page, next) = await consents.ListAsync(user.AccountId(), after, size, cancellationToken);
        return Paging.Result(context, page.Select(ConsentResponse.From).ToList(), next);
    }

    public static async Task<Results<Ok<ConsentResponse>, ProblemHttpResult>> GetConsent(
        Guid consentId, ClaimsPrincipal user, ConsentService consents, CancellationToken cancellationToken)
    {
        var view = await consents.FindAsync(user.AccountId(), consentId, cancellationToken);
        return view is null ? NotFound($"You have no consent {consentId}.") : TypedResults.Ok(ConsentResponse.From(view));
    }

    public static async Task<Results<Created<ConsentWithReceipt>, ProblemHttpResult>> GiveConsent(
        GiveConsentRequest request, ClaimsPrincipal user, ConsentService consents, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (request.OfferId == Guid.Empty)
        {
            errors["offerId"] = ["offerId is required: the id of the offer you consent to."];
        }
        if (request.NoticeVersion < 1)
        {
            errors["noticeVersion"] = ["noticeVersion is required: the version of the offer's notice you read (1 or more)."];
        }
        if (request.SpecialCareItems is { Count: > MaxNamedItems })
        {
            errors["specialCareItems"] = [$"At most {MaxNamedItems} items can be named."];
        }
        if (request.SpecialCareItems?.Any(string.IsNullOrWhiteSpace) == true)
        {
            errors["specialCareItems"] = ["Item names must not be empty."];
        }
        if (errors.Count > 0)
        {
            return Refusal.Of(ProblemTypes.MalformedRequest, errors).ToResult();
        }

        var subject = user.AccountId();
        var given = await consents.GiveAsync(subject,
            new GiveConsent(request.OfferId, request.NoticeVersion, request.NoticeHash, request.SpecialCareItems ?? [], request.LookbackDays), cancellationToken);
        if (!given.Succeeded)
        {
            return given.Refusal.ToResult();
        }
        var view = given.Value!;
        var receipt = await consents.ReceiptAsync(subject, view.Consent.ConsentId, cancellationToken);
        return TypedResults.Created($"/api/v1/me/consents/{view.Consent.ConsentId}", new ConsentWithReceipt(ConsentResponse.From(view), receipt!));
    }

    public static async Task<Results<Ok<ConsentWithReceipt>, ProblemHttpResult>> WithdrawConsent(
        Guid consentId, ClaimsPrincipal user, ConsentService consents, CancellationToken cancellationToken)
    {
        var subject = user.AccountId();
        var withdrawn = await consents.WithdrawAsync(subject, consentId, cancellationToken);
        if (!withdrawn.Succeeded)
        {
            return withdrawn.Refusal.ToResult();
        }
        var receipt = await consents.ReceiptAsync(subject, consentId, cancellationToken);
        return TypedResults.Ok(new ConsentWithReceipt(ConsentResponse.From(withdrawn.Value!), receipt!));
    }

    public static async Task<Results<Ok<SignedReceipt>, ProblemHttpResult>> GetReceipt(
        Guid consentId, ClaimsPrincipal user, ConsentService consents, CancellationToken cancellationToken)
    {
        var receipt = await consents.ReceiptAsync(user.AccountId(), consentId, cancellationToken);
        return receipt is null ? NotFound($"You have no consent {consentId}.") : TypedResults.Ok(receipt);
    }

    private static ProblemHttpResult NotFound(string detail) => Refusal.Of(ProblemTypes.NotFound, detail).ToResult();
}
