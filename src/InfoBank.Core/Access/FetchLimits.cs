namespace InfoBank.Core.Access;

/// <summary>
/// The approved fetch frequency and volume of a grant. A fetch is one pass through the pages (or
/// one aggregate query): at most <see cref="MaxFetches"/> fetches may start in any sliding
/// <see cref="Period"/> (null: ever), and one fetch serves at most <see cref="MaxRecordsPerFetch"/> records.
/// </summary>
public sealed record FetchPolicy(int MaxFetches, TimeSpan? Period, int? MaxRecordsPerFetch)
{
    /// <summary>
    /// The policy for an application's <c>fetch.frequency</c> (<c>once</c>, <c>daily</c>,
    /// <c>weekly</c>, <c>monthly</c>) and <c>fetch.maxRecordsPerFetch</c>. Periods slide (a month is
    /// 30 days) so that two fetches can never be closer than the approved interval, even across a
    /// calendar boundary.
    /// </summary>
    public static FetchPolicy FromFrequency(string frequency, int? maxRecordsPerFetch) => frequency switch
    {
        "once" => new FetchPolicy(1, null, maxRecordsPerFetch),
        "daily" => new FetchPolicy(1, TimeSpan.FromDays(1), maxRecordsPerFetch),
        "weekly" => new FetchPolicy(1, TimeSpan.FromDays(7), maxRecordsPerFetch),
        "monthly" => new FetchPolicy(1, TimeSpan.FromDays(30), maxRecordsPerFetch),
        _ => throw new ArgumentException($"Unknown fetch frequency '{frequency}' (once, daily, weekly or monthly).", nameof(frequency)),
    };
}

public enum FetchVerdictKind
{
    Allowed,

    /// <summary>Over the limit now; allowed again after <see cref="FetchVerdict.RetryAfter"/> (HTTP 429).</summary>
    RetryLater,

    /// <summary>Over a limit that never resets (a one-time grant already used): no retry will succeed.</summary>
    Exhausted,
}

/// <summary>A fetch-limit decision, with the wait (whole seconds, at least one) when it must wait.</summary>
public sealed record FetchVerdict(FetchVerdictKind Kind, TimeSpan? RetryAfter, string Reason)
{
    public bool Allowed => Kind == FetchVerdictKind.Allowed;
}

/// <summary>
/// Applies a <see cref="FetchPolicy"/> to the starts of earlier fetches (read from the access log).
/// Pure: the caller supplies the history and the time.
/// </summary>
public static class FetchLimiter
{
    /// <summary>May a new fetch start at <paramref name="now"/>, given when earlier fetches started?</summary>
    public static FetchVerdict CanStart(FetchPolicy policy, IEnumerable<DateTimeOffset> previousStarts, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var inWindow = previousStarts
            .Where(s => s <= now && (policy.Period is not { } period || s > now - period))
            .Order()
            .ToList();
        if (inWindow.Count < policy.MaxFetches)
        {
            return new FetchVerdict(FetchVerdictKind.Allowed, null, $"{inWindow.Count} of {policy.MaxFetches} fetch(es) used in the period.");
        }
        if (policy.Period is not { } window)
        {
            return new FetchVerdict(FetchVerdictKind.Exhausted, null,
                $"The grant allows {policy.MaxFetches} fetch(es) in total, and {inWindow.Count} were made.");
        }
        // The window frees a slot when the oldest start that keeps it full slides out.
        var freedAt = inWindow[inWindow.Count - policy.MaxFetches] + window;
        var wait = TimeSpan.FromSeconds(Math.Max(1, Math.Ceiling((freedAt - now).TotalSeconds)));
        return new FetchVerdict(FetchVerdictKind.RetryLater, wait,
            $"The grant allows {policy.MaxFetches} fetch(es) per {Describe(window)}; the next may start at {freedAt:O}.");
    }

    /// <summary>
    /// How many records the next page of a fetch may carry, given the page size asked for and what
    /// the fetch already served; 0 means the fetch has reached its approved volume.
    /// </summary>
    public static int PageBudget(FetchPolicy policy, int served, int requestedPageSize)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentOutOfRangeException.ThrowIfNegative(served);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(requestedPageSize);
        return policy.MaxRecordsPerFetch is { } max ? Math.Clamp(max - served, 0, requestedPageSize) : requestedPageSize;
    }

    private static string Describe(TimeSpan period) => period.TotalDays >= 1 && period.TotalDays == Math.Floor(period.TotalDays)
        ? $"{period.TotalDays:0} day(s)"
        : $"{period.TotalSeconds:0} second(s)";
}
