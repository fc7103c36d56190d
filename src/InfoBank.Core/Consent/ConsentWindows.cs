namespace InfoBank.Core.Consent;

/// <summary>A half-open span of observation time, [<see cref="From"/>, <see cref="To"/>).</summary>
public readonly record struct TimeRange(DateTimeOffset From, DateTimeOffset To)
{
    public bool IsEmpty => To <= From;

    public bool Contains(DateTimeOffset at) => at >= From && at < To;
}

/// <summary>One span of time whose data a recipient may receive, and the items consented for it.</summary>
public sealed record ConsentedPeriod(TimeRange Range, Guid ConsentId, IReadOnlySet<string> Items);

/// <summary>
/// Which observations a resident's consents to one offer cover: provision stays inside what the
/// resident agreed to, never before they consented (beyond the look-back the notice states) and
/// never from a period in which they had withdrawn. The rule, from the notice's data window:
/// <list type="bullet">
/// <item>the first consent covers data observed from <c>lookbackDays</c> before it was given until it
/// ended (or now);</item>
/// <item>every later consent covers only data observed while it was in force: a withdrawal is an
/// objection for the period it lasted, so a look-back never reaches back over it;</item>
/// <item>everything is clipped to the grant's own data window, <paramref name="outer"/>.</item>
/// </list>
/// The consents are those of one resident to one offer, in any state; their order does not matter.
/// </summary>
public static class ConsentWindows
{
    public static IReadOnlyList<ConsentedPeriod> Periods(IEnumerable<ConsentRecord> consents, int lookbackDays, TimeRange outer, DateTimeOffset now)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lookbackDays);
        var periods = new List<ConsentedPeriod>();
        var first = true;
        foreach (var consent in consents.OrderBy(c => c.GivenAt).ThenBy(c => c.ConsentId))
        {
            var end = consent.EndedAt ?? (consent.ExpiresAt < now ? consent.ExpiresAt : now);
            var start = first ? consent.GivenAt.AddDays(-lookbackDays) : consent.GivenAt;
            first = false;
            var range = Clip(new TimeRange(start, end), outer);
            if (!range.IsEmpty)
            {
                periods.Add(new ConsentedPeriod(range, consent.ConsentId, consent.Items.ToHashSet(StringComparer.Ordinal)));
            }
        }
        return periods;
    }

    /// <summary>Whether data of <paramref name="category"/> observed at <paramref name="observedAt"/> falls in a consented period for that item.</summary>
    public static bool Covers(IReadOnlyList<ConsentedPeriod> periods, string category, DateTimeOffset observedAt) =>
        periods.Any(p => p.Range.Contains(observedAt) && p.Items.Contains(category));

    private static TimeRange Clip(TimeRange range, TimeRange outer) =>
        new(range.From > outer.From ? range.From : outer.From, range.To < outer.To ? range.To : outer.To);
}
