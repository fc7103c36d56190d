using Hangfire;
using InfoBank.Core.Access;
using InfoBank.Server.Features.Applications;
using InfoBank.Server.Infrastructure.Jobs;

namespace InfoBank.Server.Features.Access;

/// <summary>
/// Hourly: for every grant accessed (or attempted) in the look-back period, applies the alert rules
/// to its access log and stores new alerts for the committee. Idempotent: an alert's key is
/// (grant, kind, day), so a rerun adds nothing.
/// </summary>
public sealed partial class AccessAlertJob(AccessStore store, ApplicationService applications, TimeProvider time, ILogger<AccessAlertJob> logger)
{
    public const string JobId = "access-alerts";

    public async Task<int> RunAsync(CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        var since = now - AccessAlertRules.Lookback;
        var raised = 0;
        foreach (var grantId in await store.GrantsAccessedSinceAsync(since, cancellationToken))
        {
            if (await applications.FindGrantAsync(grantId, cancellationToken) is not { } view)
            {
                continue;
            }
            var grant = GrantTerms.From(view);
            var events = await store.EventsAsync(grantId, since, cancellationToken);
            var alerts = AccessAlertRules.Evaluate(grantId, grant.Fetch, events, now);
            await store.SaveAlertsAsync(alerts, cancellationToken);
            raised += alerts.Count;
        }
        LogRun(logger, raised);
        return raised;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Access alert rules evaluated: {Alerts} alert(s) raised or confirmed")]
    private static partial void LogRun(ILogger logger, int alerts);
}

internal sealed class AccessAlertJobSetup : IRecurringJobSetup
{
    public void Register(IRecurringJobManager jobs) =>
        jobs.AddOrUpdate<AccessAlertJob>(AccessAlertJob.JobId, job => job.RunAsync(CancellationToken.None), Cron.Hourly());
}
