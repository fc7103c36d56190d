using System.Runtime.InteropServices;
using System.Text.Json;
using InfoBank.Core.Audit;
using InfoBank.Core.Custody;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Infrastructure.Errors;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Custody;

/// <summary>One record of a deposit batch as a data source sends it.</summary>
/// <param name="Resident">The pseudonymous reference the resident's link to this source gave (<c>rr_…</c>).</param>
public sealed record DepositRecord(string? Resident, string? Category, DateTimeOffset? ObservedAt, JsonElement Payload, string? SourceRecordId);

public sealed record DepositRequest(IReadOnlyList<DepositRecord>? Records);

/// <summary>What happened to one record: <c>stored</c> (with its new id) or <c>duplicate</c> (already stored by an earlier request).</summary>
public sealed record DepositResult(int Index, string SourceRecordId, string Status, Guid? RecordId);

public sealed record DepositResponse(int Stored, int Duplicates, IReadOnlyList<DepositResult> Results);

/// <summary>
/// Validates a whole deposit batch (inventory, links, categories, duplicates, times) and only then
/// stores all of it in one transaction: either every record is stored or reported duplicate, or
/// nothing is stored and every problem is named by its JSON path.
/// </summary>
public sealed class DepositService(
    CustodyStore store,
    RecordVault vault,
    DataInventory inventory,
    CustodyTermsCatalog terms,
    IAuditLog audit,
    TimeProvider time,
    IOptions<CustodyOptions> options)
{
    public const int MaxSourceRecordIdLength = 128;

    public async Task<Outcome<DepositResponse>> DepositAsync(string clientId, DepositRequest request, CancellationToken cancellationToken)
    {
        var max = options.Value.MaxBatchRecords;
        var records = request.Records;
        if (records is null || records.Count == 0)
        {
            return Refuse([new FieldError("records", "The batch has no records.")]);
        }
        if (records.Count > max)
        {
            return Refusal.Of(ProblemTypes.TooManyRecords,
                $"The batch has {records.Count} records; at most {max} are accepted per request. Nothing was stored.");
        }

        var check = CheckRecords(records);
        var linked = await store.FindLinkedResidentsAsync(clientId, ResidentRefs(records), cancellationToken);
        CheckLinks(records, linked, check);
        if (check.Errors.Count > 0)
        {
            return Refuse(check.Errors, onlyRetention: check.RetentionErrors == check.Errors.Count);
        }

        var batch = ToNewRecords(records, linked);
        try
        {
            return await StoreAsync(clientId, records, batch, linked.Count, cancellationToken);
        }
        catch (ResidentKeyMissingException)
        {
            // Erased between validation and storing: refuse the batch as if the link had gone first.
            return Refuse([new FieldError("records", "A resident in the batch was erased while it was being stored; nothing was stored.")]);
        }
    }

    /// <summary>
    /// What validating a batch found so far: the problems, how many of them are only "older than the
    /// retention", and each record's inventory category (null where unknown), which the link check reuses.
    /// </summary>
    private sealed class BatchCheck(int count)
    {
        public List<FieldError> Errors { get; } = [];

        public int RetentionErrors { get; set; }

        public InventoryCategory?[] Categories { get; } = new InventoryCategory?[count];
    }

    // Everything that needs no database: required parts, lengths, in-batch duplicates, categories, times, payloads.
    private BatchCheck CheckRecords(IReadOnlyList<DepositRecord> records)
    {
        var check = new BatchCheck(records.Count);
        var now = time.GetUtcNow();
        var latest = now.AddSeconds(options.Value.ClockSkewSeconds);
        var seenIds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < records.Count; i++)
        {
            var record = records[i];
            var path = $"records[{i}]";
            if (record is null)
            {
                check.Errors.Add(new FieldError(path, "The record is null."));
                continue;
            }
            CheckIdentifiers(record, i, path, seenIds, check.Errors);
            var category = record.Category is null ? null : inventory.Find(record.Category);
            check.Categories[i] = category;
            if (category is null)
            {
                check.Errors.Add(new FieldError($"{path}.category", record.Category is null
                    ? "The category is required."
                    : $"Unknown category '{record.Category}'; known: {string.Join(", ", inventory.Categories.Keys)}."));
            }
            CheckObservedAt(record, category, path, now, latest, check);
            if (category is not null)
            {
                PayloadValidator.Validate(category, record.Payload, $"{path}.payload", check.Errors);
            }
        }
        return check;
    }

    private static void CheckIdentifiers(DepositRecord record, int i, string path, Dictionary<string, int> seenIds, List<FieldError> errors)
    {
        if (string.IsNullOrWhiteSpace(record.Resident))
        {
            errors.Add(new FieldError($"{path}.resident", "The resident reference is required."));
        }
        if (string.IsNullOrWhiteSpace(record.SourceRecordId))
        {
            errors.Add(new FieldError($"{path}.sourceRecordId", "The source record id is required."));
        }
        else if (record.SourceRecordId.Length > MaxSourceRecordIdLength)
        {
            errors.Add(new FieldError($"{path}.sourceRecordId", $"The source record id is longer than {MaxSourceRecordIdLength} characters."));
        }
        else if (!seenIds.TryAdd(record.SourceRecordId, i))
        {
            errors.Add(new FieldError($"{path}.sourceRecordId", $"Duplicate within the batch: records[{seenIds[record.SourceRecordId]}] has the same source record id."));
        }
    }

    private static void CheckObservedAt(DepositRecord record, InventoryCategory? category, string path, DateTimeOffset now, DateTimeOffset latest, BatchCheck check)
    {
        if (record.ObservedAt is not { } observedAt)
        {
            check.Errors.Add(new FieldError($"{path}.observedAt", "The observation time is required."));
        }
        else if (observedAt > latest)
        {
            check.Errors.Add(new FieldError($"{path}.observedAt", "The observation time is in the future."));
        }
        else if (category is not null && observedAt < category.KeptFrom(now))
        {
            check.Errors.Add(new FieldError($"{path}.observedAt", $"The observation is older than the {category.RetentionDays}-day retention of {category.Name}."));
            check.RetentionErrors++;
        }
    }

    private static List<string> ResidentRefs(IReadOnlyList<DepositRecord> records) =>
        records.Where(r => !string.IsNullOrWhiteSpace(r?.Resident)).Select(r => r!.Resident!).Distinct(StringComparer.Ordinal).ToList();

    // Each record's resident must have linked this source, for its category, under the current terms.
    private void CheckLinks(IReadOnlyList<DepositRecord> records, Dictionary<string, LinkedResident> linked, BatchCheck check)
    {
        for (var i = 0; i < records.Count; i++)
        {
            var record = records[i];
            if (string.IsNullOrWhiteSpace(record?.Resident))
            {
                continue;
            }
            if (!linked.TryGetValue(record.Resident, out var resident))
            {
                check.Errors.Add(new FieldError($"records[{i}].resident", "No enrolled resident has linked this data source under this reference."));
            }
            else if (check.Categories[i] is { } category && !resident.Categories.Contains(category.Name))
            {
                check.Errors.Add(new FieldError($"records[{i}].category", $"The resident has not authorised this data source to deposit {category.Name}."));
            }
            else if (terms.AgreementNeeded(resident.TermsVersion) is { } needed)
            {
                // A material change of the terms stops new deposits until the resident agrees to it.
                check.Errors.Add(new FieldError($"records[{i}].resident",
                    $"The custody terms changed in what residents agree to (version {needed.Version}); nothing more is stored for this resident until they agree again."));
            }
        }
    }

    // Only called on a batch that passed every check, so each part the checks required is there.
    private static NewRecord[] ToNewRecords(IReadOnlyList<DepositRecord> records, Dictionary<string, LinkedResident> linked)
    {
        var batch = new NewRecord[records.Count];
        for (var i = 0; i < records.Count; i++)
        {
            var record = records[i];
            batch[i] = new NewRecord(
                linked[record.Resident!].ResidentId,
                record.Category!,
                record.ObservedAt!.Value.ToUniversalTime(),
                record.SourceRecordId!,
                // The payload's own UTF-8 as it arrived (already checked above), without re-serialising it.
                JsonMarshal.GetRawUtf8Value(record.Payload).ToArray());
        }
        return batch;
    }

    // Seals outside the transaction, then stores and audits in one commit: no record is stored unaudited.
    private async Task<DepositResponse> StoreAsync(
        string clientId, IReadOnlyList<DepositRecord> records, NewRecord[] batch, int residents, CancellationToken cancellationToken)
    {
        var sealedBatch = await vault.SealAsync(clientId, batch, cancellationToken);
        return await audit.CommitAsync(async (scope, ct) =>
        {
            var stored = await vault.InsertAsync(scope.Db, sealedBatch, ct);
            var results = new DepositResult[records.Count];
            for (var i = 0; i < records.Count; i++)
            {
                results[i] = new DepositResult(i, records[i].SourceRecordId!, stored[i] is null ? "duplicate" : "stored", stored[i]);
            }
            var storedCount = stored.Count(id => id is not null);
            scope.Append(new AuditEntryDraft(
                AuditKinds.DepositBatch,
                $"client:{clientId}",
                Payload: new
                {
                    records = records.Count,
                    stored = storedCount,
                    duplicates = records.Count - storedCount,
                    residents,
                    categories = batch.GroupBy(r => r.Category).ToDictionary(g => g.Key, g => g.Count()),
                }));
            return new DepositResponse(storedCount, records.Count - storedCount, results);
        }, cancellationToken);
    }

    // A batch refused only for records older than their retention has its own type: the source can drop those records and resend the rest.
    private static Refusal Refuse(IEnumerable<FieldError> errors, bool onlyRetention = false)
    {
        var byPath = errors.GroupBy(e => e.Path).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray(), StringComparer.Ordinal);
        return Refusal.Of(onlyRetention ? ProblemTypes.OutsideRetention : ProblemTypes.DepositRefused, byPath,
            $"The batch was refused; nothing was stored ({byPath.Count} problem(s)): "
            + string.Join(" ", byPath.Take(5).Select(e => $"{e.Key}: {e.Value[0]}")) + (byPath.Count > 5 ? " …" : ""));
    }
}
