namespace InfoBank.Core.Access;

/// <summary>What happened on one access attempt, as the access log records it.</summary>
public enum AccessOutcome
{
    /// <summary>Data was provided.</summary>
    Served,

    /// <summary>Refused for exceeding the approved frequency or volume (429).</summary>
    Throttled,

    /// <summary>Refused because the grant was suspended, revoked or expired (403).</summary>
    GrantInactive,
}

/// <summary>One access attempt on a grant: when, its outcome, whether it started a fetch, and how many records it provided.</summary>
public sealed record AccessEvent(DateTimeOffset At, AccessOutcome Outcome, bool FetchStart, int Items);

public enum AlertKind
{
    /// <summary>Fetches started faster than the approved frequency (or attempts to, refused with 429).</summary>
    OverFrequency,

    /// <summary>A fetch served more records than approved.</summary>
    OverVolume,

    /// <summary>The last day's volume is far above the grant's usual daily volume.</summary>
    Spike,

    /// <summary>Access was attempted on a suspended, revoked or expired grant.</summary>
    InactiveGrantAttempt,
}

/// <summary>
/// An alert for the committee. <see cref="Key"/> identifies it (grant, kind, UTC day), so a job that
/// runs again stores it once.
/// </summary>
public sealed record AccessAlert(Guid GrantId, AlertKind Kind, DateTimeOffset DetectedAt, string Key, string Message);

/// <summary>
/// The rules of the alerts job, over one grant's recent access events. Pure and deterministic so
/// that the job is idempotent and each rule can be tested on its own.
/// </summary>
public static class AccessAlertRules
{
    /// <summary>How far back the job looks.</summary>
    public static readonly TimeSpan Lookback = TimeSpan.FromDays(29);

    /// <summary>The last day's volume must be above this many times the daily mean of the 28 days before it.</summary>
    public const double SpikeFactor = 3.0;

    /// <summary>And at least this many records, so that a quiet grant's first real fetch is not a spike.</summary>
    public const int SpikeFloor = 1_000;

    public static IReadOnlyList<AccessAlert> Evaluate(Guid grantId, FetchPolicy policy, IReadOnlyList<AccessEvent> events, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var day = now.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var alerts = new List<AccessAlert>();
        void Raise(AlertKind kind, string message) =>
            alerts.Add(new AccessAlert(grantId, kind, now, $"{grantId:N}:{kind}:{day}", message));

        var recent = events.Where(e => e.At <= now && e.At > now - TimeSpan.FromDays(1)).ToList();
        var throttled = recent.Count(e => e.Outcome == AccessOutcome.Throttled);
        var overStarts = OverFrequencyStarts(policy, events.Where(e => e.Outcome == AccessOutcome.Served && e.FetchStart && e.At <= now).Select(e => e.At), now);
        if (throttled > 0 || overStarts > 0)
        {
            Raise(AlertKind.OverFrequency, overStarts > 0
                ? $"{overStarts} fetch(es) started beyond the approved frequency in the look-back period."
                : $"{throttled} access attempt(s) refused in the last 24 hours for exceeding the approved frequency or volume.");
        }
        if (policy.MaxRecordsPerFetch is { } max && recent.Any(e => e.Outcome == AccessOutcome.Served && e.Items > max))
        {
            Raise(AlertKind.OverVolume, $"An access in the last 24 hours provided more than the approved {max} records per fetch.");
        }
        var inactive = recent.Count(e => e.Outcome == AccessOutcome.GrantInactive);
        if (inactive > 0)
        {
            Raise(AlertKind.InactiveGrantAttempt, $"{inactive} access attempt(s) in the last 24 hours on the grant while it was suspended, revoked or expired.");
        }
        var lastDay = recent.Where(e => e.Outcome == AccessOutcome.Served).Sum(e => (long)e.Items);
        var before = events
            .Where(e => e.Outcome == AccessOutcome.Served && e.At <= now - TimeSpan.FromDays(1) && e.At > now - TimeSpan.FromDays(29))
            .Sum(e => (long)e.Items) / 28.0;
        if (lastDay >= SpikeFloor && lastDay > SpikeFactor * before)
        {
            Raise(AlertKind.Spike, $"{lastDay} records provided in the last 24 hours against a daily mean of {before:0.#} over the 28 days before.");
        }
        return alerts;
    }

    // Counts starts that found the window already full: only possible if enforcement was bypassed or raced.
    private static int OverFrequencyStarts(FetchPolicy policy, IEnumerable<DateTimeOffset> starts, DateTimeOffset now)
    {
        var ordered = starts.Where(s => s > now - Lookback).Order().ToList();
        var over = 0;
        for (var i = 0; i < ordered.Count; i++)
        {
            var earlier = ordered.Take(i).Where(s => policy.Period is not { } p || s > ordered[i] - p);
            if (earlier.Count() >= policy.MaxFetches)
            {
                over++;
            }
        }
        return over;
    }
}
