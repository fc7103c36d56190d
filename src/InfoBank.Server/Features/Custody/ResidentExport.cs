using System.Text.Json;
using InfoBank.Core.Custody;

namespace InfoBank.Server.Features.Custody;

/// <summary>
/// A feature's part of a resident's export (consents, receipts, passbook, …). Each writes one JSON
/// property of the export document; register implementations in DI and the export includes them.
/// </summary>
public interface IResidentExportSection
{
    /// <summary>The property name in the export document (for example <c>consents</c>).</summary>
    string Name { get; }

    /// <summary>Writes the section's value (an array or object) for the resident.</summary>
    Task WriteAsync(Guid residentId, Utf8JsonWriter writer, CancellationToken cancellationToken);
}

/// <summary>
/// Streams everything the bank holds about a resident as one JSON document, a page of records at a
/// time. The document's last member is <c>"complete": true</c>: a document without it was cut short.
/// </summary>
public sealed class ResidentExporter(
    CustodyStore store, RecordVault vault, ResidentKeyRing keys, DataInventory inventory, IEnumerable<IResidentExportSection> sections, TimeProvider time)
{
    /// <summary>
    /// Checks, before anything is sent, that the resident's data keys can be opened, so the common
    /// failures (storage down, a key ring this node cannot read) are an ordinary error answer instead
    /// of a document that stops half-way.
    /// </summary>
    public async Task PrepareAsync(Guid residentId, CancellationToken cancellationToken) =>
        await keys.GetActiveAsync(residentId, cancellationToken);

    public async Task WriteAsync(Guid residentId, Stream output, CancellationToken cancellationToken)
    {
        await using var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = false });
        var resident = await store.FindResidentAsync(residentId, cancellationToken);
        var now = time.GetUtcNow();
        writer.WriteStartObject();
        writer.WriteString("exportedAt", now);
        writer.WriteString("format", "infobank.export.v1");

        // What the bank keeps and for how long: a record observed before keptFrom is no longer held.
        writer.WritePropertyName("retention");
        writer.WriteStartObject();
        foreach (var category in inventory.Categories.Values)
        {
            writer.WritePropertyName(category.Name);
            writer.WriteStartObject();
            writer.WriteNumber("retentionDays", category.RetentionDays);
            writer.WriteString("keptFrom", category.KeptFrom(now));
            writer.WriteEndObject();
        }
        writer.WriteEndObject();

        writer.WritePropertyName("profile");
        writer.WriteStartObject();
        writer.WriteString("accountId", residentId);
        writer.WriteString("status", resident?.Status ?? "not-enrolled");
        if (resident is not null)
        {
            writer.WriteString("termsVersion", resident.TermsVersion);
            writer.WriteString("termsHash", resident.TermsHash);
            writer.WriteString("enrolledAt", resident.EnrolledAt);
            if (resident.ErasedAt is { } erasedAt)
            {
                writer.WriteString("erasedAt", erasedAt);
            }
        }
        writer.WriteEndObject();

        writer.WritePropertyName("sources");
        writer.WriteStartArray();
        foreach (var link in await store.ListLinksAsync(residentId, cancellationToken))
        {
            writer.WriteStartObject();
            writer.WriteString("clientId", link.ClientId);
            writer.WriteString("residentRef", link.ResidentRef);
            writer.WriteStartArray("categories");
            foreach (var category in link.Categories)
            {
                writer.WriteStringValue(category);
            }
            writer.WriteEndArray();
            writer.WriteString("linkedAt", link.LinkedAt);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();

        writer.WritePropertyName("records");
        writer.WriteStartArray();
        var written = 0;
        await foreach (var record in vault.ReadAllAsync(residentId, cancellationToken))
        {
            WriteRecord(writer, record);
            if (++written % 500 == 0)
            {
                await writer.FlushAsync(cancellationToken);
            }
        }
        writer.WriteEndArray();

        foreach (var section in sections)
        {
            writer.WritePropertyName(section.Name);
            await section.WriteAsync(residentId, writer, cancellationToken);
        }
        // Last, so that only a document that was written to the end says so.
        writer.WriteBoolean("complete", true);
        writer.WriteEndObject();
        await writer.FlushAsync(cancellationToken);
    }

    internal static void WriteRecord(Utf8JsonWriter writer, OpenedRecord record)
    {
        writer.WriteStartObject();
        writer.WriteString("id", record.Id);
        writer.WriteString("category", record.Category);
        writer.WriteString("observedAt", record.ObservedAt);
        writer.WriteString("storedAt", record.StoredAt);
        writer.WriteString("source", record.Source);
        writer.WriteString("sourceRecordId", record.SourceRecordId);
        writer.WriteString("expiresAt", record.ExpiresAt);
        // A record that fails its integrity check is listed, so the export is whole, but without a value.
        if (record.Integrity == RecordIntegrity.Failed)
        {
            writer.WriteString("integrity", "failed");
            writer.WriteNull("payload");
        }
        else
        {
            writer.WriteString("integrity", "intact");
            writer.WritePropertyName("payload");
            writer.WriteRawValue(record.Payload, skipInputValidation: true);
        }
        writer.WriteEndObject();
    }
}
