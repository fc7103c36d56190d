using Hangfire;
using InfoBank.Core.Audit;
using InfoBank.Server.Infrastructure.Jobs;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Audit;

/// <summary>
/// Signs a checkpoint of the current tree head when the log has grown since the last one.
/// Idempotent: a second run at the same size finds the checkpoint and does nothing.
/// </summary>
public sealed partial class AuditCheckpointJob(
    AuditStore store, ICheckpointSigner signer, TimeProvider time, IOptions<AuditOptions> options, ILogger<AuditCheckpointJob> logger)
    : IRecurringJobSetup
{
    public const string JobId = "audit-checkpoint";

    public void Register(IRecurringJobManager jobs) =>
        jobs.AddOrUpdate<AuditCheckpointJob>(JobId, job => job.RunAsync(CancellationToken.None),
            $"*/{options.Value.CheckpointIntervalSeconds} * * * * *");

    /// <summary>Returns the new checkpoint, or null when there was nothing new to sign.</summary>
    public async Task<CheckpointRow?> RunAsync(CancellationToken cancellationToken)
    {
        var frontier = await store.CurrentFrontierAsync(cancellationToken);
        var latest = await store.LatestCheckpointAsync(cancellationToken);
        if (frontier.Size == 0 || latest?.TreeSize >= frontier.Size)
        {
            return null;
        }
        var checkpoint = new Checkpoint(options.Value.Origin, frontier.Size, frontier.Root());
        var row = new CheckpointRow
        {
            TreeSize = checkpoint.Size,
            RootHash = checkpoint.Root,
            CreatedAt = time.GetUtcNow(),
            KeyName = options.Value.Origin,
            Note = (await signer.SignAsync(checkpoint, cancellationToken)).ToString(),
        };
        if (!await store.AddCheckpointAsync(row, cancellationToken))
        {
            return await store.CheckpointAsync(checkpoint.Size, cancellationToken);
        }
        LogSigned(logger, checkpoint.Size);
        return row;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Audit checkpoint signed at tree size {Size}")]
    private static partial void LogSigned(ILogger logger, long size);
}
