using Hangfire;
using InfoBank.Server.Infrastructure.Jobs;

namespace InfoBank.Server.Features.Custody;

/// <summary>
/// Custody's background work. Arguments are ids only; every method is idempotent. The recurring
/// runs, and <see cref="CustodyStartupCatchUp"/> right after each start, catch up on work whose
/// one-off job was lost (Hangfire's in-memory storage forgets queued jobs on restart; our tables do not).
/// </summary>
public sealed class CustodyJobs(ErasureSweeper sweeper, CustodyStore store, KeyRotation rotation, RetentionSweeper retention)
{
    /// <summary>Deletes records past their category's retention (already unreadable: every read filters them out).</summary>
    public Task DeleteExpiredAsync(CancellationToken cancellationToken) => retention.RunAsync(cancellationToken);

    /// <summary>Deletes an erasure's leftover rows (already unreadable: their keys are gone).</summary>
    public Task SweepErasureAsync(Guid erasureId, CancellationToken cancellationToken) => sweeper.SweepAsync(erasureId, cancellationToken);

    public async Task SweepPendingErasuresAsync(CancellationToken cancellationToken)
    {
        foreach (var id in await store.PendingErasuresAsync(cancellationToken))
        {
            await sweeper.SweepAsync(id, cancellationToken);
        }
    }

    /// <summary>Re-wraps data keys under the current key-encryption key (after a rotation or DataProtection's own roll-over).</summary>
    public Task RewrapDataKeysAsync(CancellationToken cancellationToken) => rotation.RewrapAsync(cancellationToken);

    /// <summary>Re-seals one resident's records after their data key was rotated, then destroys the retired key.</summary>
    public Task ResealResidentAsync(Guid residentId, CancellationToken cancellationToken) => rotation.ResealResidentAsync(residentId, cancellationToken);

    public async Task ResealPendingAsync(CancellationToken cancellationToken)
    {
        foreach (var residentId in await rotation.ResidentsWithRetiredKeysAsync(cancellationToken))
        {
            await rotation.ResealResidentAsync(residentId, cancellationToken);
        }
    }
}

internal sealed class CustodyRecurringJobs : IRecurringJobSetup
{
    public void Register(IRecurringJobManager jobs)
    {
        jobs.AddOrUpdate<CustodyJobs>("custody-sweep-erasures", j => j.SweepPendingErasuresAsync(CancellationToken.None), "*/10 * * * *");
        jobs.AddOrUpdate<CustodyJobs>("custody-rewrap-data-keys", j => j.RewrapDataKeysAsync(CancellationToken.None), Cron.Hourly());
        jobs.AddOrUpdate<CustodyJobs>("custody-delete-expired", j => j.DeleteExpiredAsync(CancellationToken.None), Cron.Hourly());
        jobs.AddOrUpdate<CustodyJobs>("custody-reseal-rotated", j => j.ResealPendingAsync(CancellationToken.None), "*/15 * * * *");
    }
}

/// <summary>
/// An erasure's sweep enqueued just before a crash is lost with in-memory Hangfire storage; its
/// erasure row is not. Sweeping what is pending as soon as the host is up means the rows go within
/// moments of a restart, not at the next run of <c>custody-sweep-erasures</c>.
/// </summary>
internal sealed class CustodyStartupCatchUp : IStartupCatchUp
{
    public string Name => "custody-sweep-erasures";

    public Task RunAsync(IServiceProvider services, CancellationToken cancellationToken) =>
        services.GetRequiredService<CustodyJobs>().SweepPendingErasuresAsync(cancellationToken);
}
