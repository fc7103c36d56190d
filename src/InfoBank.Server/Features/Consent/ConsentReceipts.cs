using System.Text.Json;
using System.Text.Json.Serialization;
using InfoBank.Core;
using InfoBank.Core.Consent;
using InfoBank.Core.Crypto;
using InfoBank.Server.Infrastructure.Crypto;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Consent;

/// <summary>Bound from the <c>Consent</c> configuration section: who the controller is, as receipts state it.</summary>
public sealed class ConsentOptions
{
    public const string Section = "Consent";

    public string ControllerName { get; set; } = "InfoBank Sapporo (demo information bank)";

    public string ControllerContact { get; set; } = "privacy@infobank.example";

    public string ControllerCountry { get; set; } = "JP";

    /// <summary>Cron of the job that moves consents past their validity to ConsentExpired.</summary>
    public string ExpiryCron { get; set; } = "*/5 * * * *";
}

/// <summary>
/// A consent receipt with the fields of an ISO/IEC TS 27560 consent record (and Kantara Consent
/// Receipt v1.1 in spirit): built only from the ledger and the notice the resident agreed to, so
/// the same history always gives the same receipt, and signed as a compact JWS.
/// </summary>
public sealed record ConsentReceipt(
    [property: JsonPropertyName("schemaVersion")] string SchemaVersion,
    [property: JsonPropertyName("recordId")] Guid RecordId,
    [property: JsonPropertyName("subject")] ReceiptSubject Subject,
    [property: JsonPropertyName("controller")] ReceiptParty Controller,
    [property: JsonPropertyName("recipient")] ReceiptRecipient Recipient,
    [property: JsonPropertyName("purposes")] IReadOnlyList<ReceiptPurpose> Purposes,
    [property: JsonPropertyName("dataItems")] IReadOnlyList<string> DataItems,
    [property: JsonPropertyName("specialCareItems")] IReadOnlyList<string> SpecialCareItems,
    [property: JsonPropertyName("explicitlyConsentedItems")] IReadOnlyList<string> ExplicitlyConsentedItems,
    [property: JsonPropertyName("granularity")] string Granularity,
    [property: JsonPropertyName("legalBasis")] string LegalBasis,
    [property: JsonPropertyName("notice")] ReceiptNotice Notice,
    [property: JsonPropertyName("validity")] ReceiptValidity Validity,
    [property: JsonPropertyName("dataWindow")] ReceiptDataWindow DataWindow,
    [property: JsonPropertyName("retention")] ReceiptRetention Retention,
    [property: JsonPropertyName("benefit")] ReceiptBenefit Benefit,
    [property: JsonPropertyName("withdrawal")] ReceiptWithdrawal Withdrawal,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("stateChangedAt")] DateTimeOffset StateChangedAt,
    [property: JsonPropertyName("events")] IReadOnlyList<ReceiptEvent> Events);

public sealed record ReceiptSubject([property: JsonPropertyName("reference")] string Reference);

public sealed record ReceiptParty(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("contact")] string Contact,
    [property: JsonPropertyName("country")] string Country);

public sealed record ReceiptRecipient(
    [property: JsonPropertyName("clientId")] string ClientId,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("country")] string Country);

public sealed record ReceiptPurpose(
    [property: JsonPropertyName("code")] string Code,
    [property: JsonPropertyName("text")] LocalizedText Text);

public sealed record ReceiptNotice(
    [property: JsonPropertyName("offerId")] Guid OfferId,
    [property: JsonPropertyName("grantId")] Guid GrantId,
    [property: JsonPropertyName("version")] int Version,
    [property: JsonPropertyName("hash")] string Hash,
    [property: JsonPropertyName("reference")] string Reference,
    [property: JsonPropertyName("languages")] IReadOnlyList<string> Languages);

public sealed record ReceiptValidity(
    [property: JsonPropertyName("from")] DateTimeOffset From,
    [property: JsonPropertyName("until")] DateTimeOffset Until);

/// <summary>
/// Which observations this consent lets the recipient receive: from <see cref="From"/> (the notice's
/// look-back before the resident's first consent to the offer; a later consent starts when it was given,
/// never reaching back over a withdrawal) until the consent ends.
/// </summary>
public sealed record ReceiptDataWindow(
    [property: JsonPropertyName("lookbackDays")] int LookbackDays,
    [property: JsonPropertyName("from")] DateTimeOffset From);

public sealed record ReceiptRetention([property: JsonPropertyName("days")] int Days);

public sealed record ReceiptBenefit(
    [property: JsonPropertyName("points")] int Points,
    [property: JsonPropertyName("text")] LocalizedText Text);

public sealed record ReceiptWithdrawal(
    [property: JsonPropertyName("method")] LocalizedText Method,
    [property: JsonPropertyName("endpoint")] string Endpoint);

public sealed record ReceiptEvent(
    [property: JsonPropertyName("sequence")] long Sequence,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("actor")] string Actor,
    [property: JsonPropertyName("auditSequence")] long? AuditSequence);

/// <summary>A receipt as JSON and as the compact JWS over exactly those bytes.</summary>
public sealed record SignedReceipt(
    [property: JsonPropertyName("receipt")] JsonElement Receipt,
    [property: JsonPropertyName("jws")] string Jws,
    [property: JsonPropertyName("kid")] string KeyId);

/// <summary>
/// Builds and signs consent receipts. The JWS payload is the receipt's UTF-8 JSON; the header is
/// <c>{"alg":"EdDSA","kid":…,"typ":"consent-receipt+jwt"}</c>; the key is the current
/// <see cref="SigningKeyPurposes.Receipt"/> key, whose public half is in <c>GET /api/v1/keys</c>.
/// </summary>
public sealed class ConsentReceipts(SigningKeyStore keys, IOptions<ConsentOptions> options)
{
    public const string SchemaVersion = "ISO/IEC TS 27560:2023 consent record; infobank-consent-receipt/1";
    public const string MediaType = "consent-receipt+jwt";

    private static readonly JsonSerializerOptions ReceiptJson = new() { WriteIndented = false };

    public static ConsentReceipt Build(
        ConsentRecord consent, OfferTerms offer, Notice notice, string noticeHash, IReadOnlyList<ConsentEvent> events,
        IReadOnlyDictionary<long, long> auditSequences, ConsentOptions controller, DateTimeOffset dataFrom)
    {
        var explicitConsent = notice.SpecialCareItems.Count > 0;
        return new ConsentReceipt(
            SchemaVersion,
            consent.ConsentId,
            new ReceiptSubject($"resident:{consent.SubjectId:D}"),
            new ReceiptParty(controller.ControllerName, controller.ControllerContact, controller.ControllerCountry),
            new ReceiptRecipient(notice.Recipient.ClientId, notice.Recipient.Name, notice.Recipient.Country),
            [new ReceiptPurpose(notice.PurposeCode, notice.PurposeText)],
            consent.Items,
            notice.SpecialCareItems,
            consent.ExplicitItems,
            notice.Granularity.ToString(),
            // DPV: special-care data needs consent expressed explicitly for those items (APPI Art. 20(2)).
            explicitConsent ? "dpv:ExplicitlyExpressedConsent" : "dpv:Consent",
            new ReceiptNotice(offer.OfferId, offer.GrantId, consent.NoticeVersion, noticeHash,
                $"/api/v1/offers/{offer.OfferId}?noticeVersion={consent.NoticeVersion}", ["ja", "en"]),
            new ReceiptValidity(consent.GivenAt, consent.ExpiresAt),
            new ReceiptDataWindow(notice.EffectiveLookbackDays, dataFrom),
            new ReceiptRetention(notice.RetentionDays),
            new ReceiptBenefit(notice.BenefitPoints, notice.BenefitText),
            new ReceiptWithdrawal(notice.WithdrawalMethod, $"DELETE /api/v1/me/consents/{consent.ConsentId}"),
            consent.State.ToString(),
            consent.EndedAt ?? consent.GivenAt,
            events.Select(e => new ReceiptEvent(e.Sequence, e.Type.ToString(), e.At, e.Actor,
                auditSequences.TryGetValue(e.Sequence, out var audit) ? audit : null)).ToList());
    }

    public async Task<SignedReceipt> SignAsync(ConsentReceipt receipt, CancellationToken cancellationToken)
    {
        var key = await keys.GetCurrentAsync(SigningKeyPurposes.Receipt, cancellationToken);
        var payload = JsonSerializer.SerializeToUtf8Bytes(receipt, ReceiptJson);
        var jws = CompactJws.Sign(key.Key, MediaType, payload);
        using var doc = JsonDocument.Parse(payload);
        return new SignedReceipt(doc.RootElement.Clone(), jws, key.KeyId);
    }

    public ConsentOptions Controller => options.Value;
}
