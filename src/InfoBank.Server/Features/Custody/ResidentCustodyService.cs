using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Identity;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Custody;

public enum LinkFailure
{
    None,
    NotEnrolled,
    UnknownSource,
    NotADataSource,
}

/// <summary>
/// A resident's custody actions (enrol, link, unlink, erase), each recorded in the audit log before
/// the caller answers.
/// </summary>
public sealed partial class ResidentCustodyService(
    CustodyStore store,
    IClientDirectory clients,
    IAuditLog audit,
    IEnumerable<IResidentErasureStep> erasureSteps,
    ILogger<ResidentCustodyService> logger)
{
    public async Task<(ResidentRow Resident, bool NewlyEnrolled)> EnrolAsync(Guid residentId, CustodyTerms terms, CancellationToken cancellationToken)
    {
        var result = await store.EnrolAsync(residentId, terms.Version, terms.Hash, cancellationToken);
        await audit.AppendAsync(new AuditEntryDraft(
            AuditKinds.Enrolled,
            Actor(residentId),
            SubjectRef: residentId.ToString(),
            Payload: new { termsVersion = terms.Version, termsHash = terms.Hash, renewed = !result.NewlyEnrolled }), cancellationToken);
        return result;
    }

    public async Task<(SourceLink? Link, bool Created, LinkFailure Failure, RegisteredClient? Client)> LinkAsync(
        Guid residentId, string clientId, IReadOnlyList<string> categories, CancellationToken cancellationToken)
    {
        if (await store.FindResidentAsync(residentId, cancellationToken) is not { Status: ResidentStatus.Enrolled })
        {
            return (null, false, LinkFailure.NotEnrolled, null);
        }
        var client = await clients.FindAsync(clientId, cancellationToken);
        if (client is null)
        {
            return (null, false, LinkFailure.UnknownSource, null);
        }
        if (client.Kind != ClientKind.DataSource)
        {
            return (null, false, LinkFailure.NotADataSource, client);
        }
        var (link, created) = await store.UpsertLinkAsync(residentId, clientId, categories, cancellationToken);
        await audit.AppendAsync(new AuditEntryDraft(
            AuditKinds.SourceLinked,
            Actor(residentId),
            SubjectRef: residentId.ToString(),
            Payload: new { clientId, categories, created }), cancellationToken);
        return (link, created, LinkFailure.None, client);
    }

    public async Task<bool> UnlinkAsync(Guid residentId, string clientId, CancellationToken cancellationToken)
    {
        if (!await store.DeleteLinkAsync(residentId, clientId, cancellationToken))
        {
            return false;
        }
        await audit.AppendAsync(new AuditEntryDraft(
            AuditKinds.SourceUnlinked,
            Actor(residentId),
            SubjectRef: residentId.ToString(),
            Payload: new { clientId }), cancellationToken);
        return true;
    }

    /// <summary>
    /// Runs the other features' erasure steps (consents withdrawn), then crypto-shreds the resident
    /// and records it; the caller schedules the sweep of the leftover rows. Null when the resident is
    /// not enrolled, in which case nothing at all changes.
    /// </summary>
    public async Task<ErasureRow?> EraseAsync(Guid residentId, CancellationToken cancellationToken)
    {
        if (await store.FindResidentAsync(residentId, cancellationToken) is not { Status: ResidentStatus.Enrolled })
        {
            return null;
        }
        // Steps run first: if one fails, the keys are intact and the resident can simply retry;
        // the other order would leave an erased resident with consents nobody can withdraw any more.
        foreach (var step in erasureSteps)
        {
            await step.ApplyAsync(residentId, cancellationToken);
        }
        var erasure = await store.EraseAsync(residentId, cancellationToken);
        if (erasure is null)
        {
            return null;
        }
        await audit.AppendAsync(new AuditEntryDraft(
            AuditKinds.Erasure,
            Actor(residentId),
            SubjectRef: residentId.ToString(),
            Payload: new { erasureId = erasure.Id, keyVersionsDestroyed = erasure.UpToKeyVersion, method = "crypto-shredding" }), cancellationToken);
        // Once more after the shred: another session of the resident may have given a consent
        // between the first pass and the erasure. The steps are idempotent.
        foreach (var step in erasureSteps)
        {
            await step.ApplyAsync(residentId, cancellationToken);
        }
        LogErased(logger, erasure.Id);
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
