using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Errors;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Custody;

/// <summary>A data source the resident linked: the link, whether this request created it, and the source's display name.</summary>
public sealed record LinkedSource(SourceLink Link, bool Created, string? DisplayName);

/// <summary>
/// A resident's custody actions (enrol, link, unlink, erase). Each runs in the audit log's
/// transaction, so the change and its audit entry are durable together before the caller answers.
/// </summary>
public sealed partial class ResidentCustodyService(
    CustodyStore store,
    ResidentKeyRing keys,
    IClientDirectory clients,
    IAuditLog audit,
    IEnumerable<IResidentErasureStep> erasureSteps,
    ILogger<ResidentCustodyService> logger)
{
    public async Task<(ResidentRow Resident, bool NewlyEnrolled)> EnrolAsync(Guid residentId, CustodyTerms terms, CancellationToken cancellationToken)
    {
        // Wrapped before the transaction: DataProtection may write a new ring key to this database.
        var newKey = keys.NewKey(residentId);
        var result = await audit.CommitAsync(async (scope, _) =>
        {
            var enrolled = await store.EnrolAsync(scope.Db, residentId, terms.Version, terms.Hash, newKey, scope.Now);
            scope.Append(new AuditEntryDraft(
                AuditKinds.Enrolled,
                Actor(residentId),
                SubjectRef: residentId.ToString(),
                Payload: new { termsVersion = terms.Version, termsHash = terms.Hash, renewed = !enrolled.NewlyEnrolled }));
            return enrolled;
        }, cancellationToken);
        keys.Forget(residentId);
        return result;
    }

    public async Task<Outcome<LinkedSource>> LinkAsync(
        Guid residentId, string clientId, IReadOnlyList<string> categories, CancellationToken cancellationToken)
    {
        var client = await clients.FindAsync(clientId, cancellationToken);
        return await audit.CommitAsync<Outcome<LinkedSource>>(async (scope, _) =>
        {
            if (await CustodyStore.FindResidentAsync(scope.Db, residentId) is not { Status: ResidentStatus.Enrolled })
            {
                return Refusal.Of(ProblemTypes.NotEnrolled,
                    "Enrol first (POST /api/v1/me/enrollment): nothing can be linked or deposited before you agree to the custody terms.");
            }
            if (client is null)
            {
                return Refusal.Of(ProblemTypes.NotFound, $"No registered client has the id '{Shorten(clientId)}'.");
            }
            if (client.Kind != ClientKind.DataSource)
            {
                return Refusal.Of(ProblemTypes.NotADataSource, $"The client '{Shorten(clientId)}' is not registered as a data source, so it cannot deposit data.");
            }
            var (link, created) = await store.UpsertLinkAsync(scope.Db, residentId, clientId, categories, scope.Now);
            scope.Append(new AuditEntryDraft(
                AuditKinds.SourceLinked,
                Actor(residentId),
                SubjectRef: residentId.ToString(),
                Payload: new { clientId, categories, created }));
            return new LinkedSource(link, created, client.DisplayName);
        }, cancellationToken);
    }

    // The client id comes from the path; echoed back bounded, so a problem never repeats a long value.
    private static string Shorten(string value) => value.Length > 80 ? value[..80] + "…" : value;

    public Task<bool> UnlinkAsync(Guid residentId, string clientId, CancellationToken cancellationToken) =>
        audit.CommitAsync(async (scope, _) =>
        {
            if (!await store.DeleteLinkAsync(scope.Db, residentId, clientId))
            {
                return false;
            }
            scope.Append(new AuditEntryDraft(
                AuditKinds.SourceUnlinked,
                Actor(residentId),
                SubjectRef: residentId.ToString(),
                Payload: new { clientId }));
            return true;
        }, cancellationToken);

    /// <summary>
    /// Erases the resident in one audited transaction: the other features' erasure steps (every
    /// active consent withdrawn, each with its own entry), then the crypto-shred and its entry. All of
    /// it commits together or not at all, and nothing another session does can fall between the steps
    /// and the shred (the log's transaction holds the write lock). The caller schedules the sweep of
    /// the leftover rows. Null when the resident is not enrolled, in which case nothing changes.
    /// </summary>
    public async Task<ErasureRow?> EraseAsync(Guid residentId, CancellationToken cancellationToken)
    {
        var erasure = await audit.CommitAsync(async (scope, _) =>
        {
            if (await CustodyStore.FindResidentAsync(scope.Db, residentId) is not { Status: ResidentStatus.Enrolled })
            {
                return null;
            }
            foreach (var step in erasureSteps)
            {
                await step.ApplyAsync(scope, residentId);
            }
            var erased = await store.EraseAsync(scope.Db, residentId, scope.Now);
            if (erased is not null)
            {
                scope.Append(new AuditEntryDraft(
                    AuditKinds.Erasure,
                    Actor(residentId),
                    SubjectRef: residentId.ToString(),
                    Payload: new
                    {
                        erasureId = erased.Id,
                        keyVersionsDestroyed = erased.UpToKeyVersion,
                        method = "crypto-shredding",
                        steps = erasureSteps.Select(s => s.Effect).ToArray(),
                    }));
                // The link from the log back to the person goes last: the withdrawals and the erasure
                // above still carry the resident's pseudonym, nothing written after can.
                scope.RetirePseudonym(residentId);
            }
            return erased;
        }, cancellationToken);
        if (erasure is not null)
        {
            keys.Forget(residentId);
            LogErased(logger, erasure.Id);
        }
        return erasure;
    }

    private static string Actor(Guid residentId) => $"resident:{residentId}";

    [LoggerMessage(Level = LogLevel.Information, Message = "Erasure {ErasureId}: resident keys destroyed")]
    private static partial void LogErased(ILogger logger, Guid erasureId);
}

/// <summary>Deletes an erasure's leftover rows, which are already unreadable because their keys are gone. Idempotent.</summary>
public sealed partial class ErasureSweeper(CustodyStore store, RecordVault vault, IOptions<CustodyOptions> options, ILogger<ErasureSweeper> logger)
{
    public async Task<long> SweepAsync(Guid erasureId, CancellationToken cancellationToken)
    {
        var erasure = await store.FindErasureAsync(erasureId, cancellationToken);
        if (erasure is null)
        {
            return 0;
        }
        long swept = 0;
        int deleted;
        do
        {
            deleted = await vault.SweepBatchAsync(erasure.ResidentId, erasure.UpToKeyVersion, options.Value.SweepBatchSize, cancellationToken);
            swept += deleted;
        }
        while (deleted > 0);
        await store.CompleteErasureAsync(erasureId, swept, cancellationToken);
        LogSwept(logger, erasureId, swept);
        return swept;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Erasure {ErasureId}: swept {Count} unreadable record rows")]
    private static partial void LogSwept(ILogger logger, Guid erasureId, long count);
}
