using System.Text.Json;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Infrastructure.Db;

namespace InfoBank.Server.Features.Consent;

/// <summary>The resident's consents in their full export: each consent with its notice reference and event history.</summary>
public sealed class ConsentExportSection(ConsentService consents, ConsentStore store) : IResidentExportSection
{
    public string Name => "consents";

    public async Task WriteAsync(Guid residentId, Utf8JsonWriter writer, CancellationToken cancellationToken)
    {
        var views = await consents.ListAsync(residentId, cancellationToken);
        await store.Db.ReadAsync(async s =>
        {
            await WriteAsync(s, views, writer);
            return true;
        }, cancellationToken);
    }

    private async Task WriteAsync(DbSession s, IReadOnlyList<ConsentView> views, Utf8JsonWriter writer)
    {
        writer.WriteStartArray();
        foreach (var view in views)
        {
            var consent = view.Consent;
            writer.WriteStartObject();
            writer.WriteString("consentId", consent.ConsentId);
            writer.WriteString("offerId", consent.OfferId);
            writer.WriteString("grantId", view.Offer.GrantId);
            writer.WriteString("recipient", view.Notice.Recipient.ClientId);
            writer.WriteString("purpose", view.Notice.PurposeCode);
            writer.WriteString("state", consent.State.ToString());
            writer.WriteNumber("noticeVersion", consent.NoticeVersion);
            writer.WriteString("noticeHash", view.NoticeHash);
            writer.WriteStartArray("items");
            foreach (var item in consent.Items)
            {
                writer.WriteStringValue(item);
            }
            writer.WriteEndArray();
            writer.WriteStartArray("explicitlyConsentedItems");
            foreach (var item in consent.ExplicitItems)
            {
                writer.WriteStringValue(item);
            }
            writer.WriteEndArray();
            writer.WriteString("givenAt", consent.GivenAt);
            writer.WriteString("expiresAt", consent.ExpiresAt);
            if (consent.EndedAt is { } ended)
            {
                writer.WriteString("endedAt", ended);
            }
            writer.WriteString("receipt", $"/api/v1/me/consents/{consent.ConsentId}/receipt");
            writer.WriteStartArray("events");
            foreach (var e in await store.ListEventsAsync(s, consent.ConsentId))
            {
                writer.WriteStartObject();
                writer.WriteNumber("sequence", e.Sequence);
                writer.WriteString("type", e.Type.ToString());
                writer.WriteString("at", e.At);
                writer.WriteString("actor", e.Actor);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }
}
