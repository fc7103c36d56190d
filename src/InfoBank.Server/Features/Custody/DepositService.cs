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
        var errors = new List<FieldError>();
        var retentionErrors = 0;
        if (records is null || records.Count == 0)
        {
            return Refuse([new FieldError("records", "The batch has no records.")]);
        }
        if (records.Count > max)
        {
            return Refusal.Of(ProblemTypes.TooManyRecords,
                $"The batch has {records.Count} records; at most {max} are accepted per request. Nothing was stored.");
        }

        var now = time.GetUtcNow();
        var latest = now.AddSeconds(options.Value.ClockSkewSeconds);
        var seenIds = new Dictionary<string, int>(StringComparer.Ordinal);
        var categories = new InventoryCategory?[records.Count];
        for (var i = 0; i < records.Count; i++)
        {
            var record = records[i];
            var path = $"records[{i}]";
            if (record is null)
            {
                errors.Add(new FieldError(path, "The record is null."));
                continue;
            }
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

            var category = record.Category is null ? null : inventory.Find(record.Category);
            categories[i] = category;
            if (category is null)
            {
                errors.Add(new FieldError($"{path}.category", record.Category is null
                    ? "The category is required."
                    : $"Unknown category '{record.Category}'; known: {string.Join(", ", inventory.Categories.Keys)}."));
            }

            if (record.ObservedAt is not { } observedAt)
            {
                errors.Add(new FieldError($"{path}.observedAt", "The observation time is required."));
            }
            else if (observedAt > latest)
            {
                errors.Add(new FieldError($"{path}.observedAt", "The observation time is in the future."));
            }
            else if (category is not null && observedAt < category.KeptFrom(now))
            {
                errors.Add(new FieldError($"{path}.observedAt", $"The observation is older than the {category.RetentionDays}-day retention of {category.Name}."));
                retentionErrors++;
            }

            if (category is not null)
            {
                PayloadValidator.Validate(category, record.Payload, $"{path}.payload", errors);
            }
        }

        var refs = records.Where(r => !string.IsNullOrWhiteSpace(r?.Resident)).Select(r => r!.Resident!).Distinct(StringComparer.Ordinal).ToList();
        var linked = await store.FindLinkedResidentsAsync(clientId, refs, cancellationToken);
        for (var i = 0; i < records.Count; i++)
        {
            var record = records[i];
            if (string.IsNullOrWhiteSpace(record?.Resident))
            {
                continue;
            }
            if (!linked.TryGetValue(record.Resident, out var resident))
            {
                errors.Add(new FieldError($"records[{i}].resident", "No enrolled resident has linked this data source under this reference."));
            }
            else if (categories[i] is { } category && !resident.Categories.Contains(category.Name))
            {
                errors.Add(new FieldError($"records[{i}].category", $"The resident has not authorised this data source to deposit {category.Name}."));
            }
            else if (terms.AgreementNeeded(resident.TermsVersion) is { } needed)
            {
                // A material change of the terms stops new deposits until the resident agrees to it.
                errors.Add(new FieldError($"records[{i}].resident",
                    $"The custody terms changed in what residents agree to (version {needed.Version}); nothing more is stored for this resident until they agree again."));
            }
        }
        if (errors.Count > 0)
        {
            return Refuse(errors, onlyRetention: retentionErrors == errors.Count);
        }

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

        try
        {
            var sealedBatch = await vault.SealAsync(clientId, batch, cancellationToken);
            var response = await audit.CommitAsync(async (scope, ct) =>
            {
                var stored = await vault.InsertAsync(scope.Db, sealedBatch, ct);
                var results = new DepositResult[records.Count];
                for (var i = 0; i < records.Count; i++)
                {
                    results[i] = new DepositResult(i, records[i].SourceRecordId!, stored[i] is null ? "duplicate" : "stored", stored[i]);
                }
                var storedCount = stored.Count(id => id is not null);
                // The batch's entry commits with its records: no record is stored unaudited.
                scope.Append(new AuditEntryDraft(
                    AuditKinds.DepositBatch,
                    $"client:{clientId}",
                    Payload: new
                    {
                        records = records.Count,
                        stored = storedCount,
                        duplicates = records.Count - storedCount,
                        residents = linked.Count,
                        categories = batch.GroupBy(r => r.Category).ToDictionary(g => g.Key, g => g.Count()),
                    }));
                return new DepositResponse(storedCount, records.Count - storedCount, results);
            }, cancellationToken);
            return response;
        }
        catch (ResidentKeyMissingException)
        {
            // Erased between validation and storing: refuse the batch as if the link had gone first.
            return Refuse([new FieldError("records", "A resident in the batch was erased while it was being stored; nothing was stored.")]);
        }
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
