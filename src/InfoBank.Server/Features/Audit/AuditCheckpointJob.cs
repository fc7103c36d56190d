using Hangfire;
using InfoBank.Server.Infrastructure.Jobs;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Audit;

/// <summary>
/// Signs a checkpoint of the current tree head when the log has grown since the last one, through
/// <see cref="ICheckpointSigner.SignAsync"/>: only if the grown tree extends the last checkpoint the
/// signer signed. Idempotent: a second run at the same size finds nothing new and does nothing. A
/// refusal is not an exception (Hangfire would retry it); the signer raises the alert itself.
/// </summary>
public sealed class AuditCheckpointJob(ICheckpointSigner signer, IOptions<AuditOptions> options) : IRecurringJobSetup
{
    public const string JobId = "audit-checkpoint";

    public void Register(IRecurringJobManager jobs) =>
        jobs.AddOrUpdate<AuditCheckpointJob>(JobId, job => job.RunAsync(CancellationToken.None),
            $"*/{options.Value.CheckpointIntervalSeconds} * * * * *");

    /// <summary>Returns the new checkpoint, or null when there was nothing new to sign or the signer refused.</summary>
    public async Task<CheckpointRow?> RunAsync(CancellationToken cancellationToken)
    {
        var outcome = await signer.SignAsync(cancellationToken);
        return outcome.Kind == CheckpointOutcomeKind.Signed ? outcome.Checkpoint : null;
    }
}
