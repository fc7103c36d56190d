using InfoBank.Core.Access;

namespace InfoBank.Core.Tests.Access;

public sealed class AccessAlertTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid Grant = Guid.NewGuid();
    private static readonly FetchPolicy Daily = FetchPolicy.FromFrequency("daily", 10_000);

    private static AccessEvent Served(double hoursAgo, int items, bool start = true) => new(Now.AddHours(-hoursAgo), AccessOutcome.Served, start, items);

    [Fact]
    public void A_grant_within_its_terms_raises_nothing()
    {
        var history = Enumerable.Range(1, 28).Select(d => Served(d * 24 + 1, 800)).Append(Served(0.5, 900)).ToList();
        Assert.Empty(AccessAlertRules.Evaluate(Grant, Daily, history, Now));
    }

    [Fact]
    public void Refused_attempts_and_starts_beyond_the_frequency_are_flagged()
    {
        var throttled = AccessAlertRules.Evaluate(Grant, Daily, [Served(5, 10), new AccessEvent(Now.AddHours(-1), AccessOutcome.Throttled, true, 0)], Now);
        Assert.Equal(AlertKind.OverFrequency, Assert.Single(throttled).Kind);

        var raced = AccessAlertRules.Evaluate(Grant, Daily, [Served(30, 10), Served(29, 10)], Now);
        Assert.Contains("beyond the approved frequency", Assert.Single(raced).Message, StringComparison.Ordinal);

        // Continuation pages of one fetch are not new fetches.
        Assert.Empty(AccessAlertRules.Evaluate(Grant, Daily, [Served(3, 10), Served(2.9, 10, start: false), Served(2.8, 10, start: false)], Now));
    }

    [Fact]
    public void Over_volume_attempts_on_inactive_grants_and_spikes_are_flagged()
    {
        // 10,001 records in a day out of nowhere is also a spike.
        Assert.Equal([AlertKind.OverVolume, AlertKind.Spike], AccessAlertRules.Evaluate(Grant, Daily, [Served(1, 10_001)], Now).Select(a => a.Kind));
        Assert.Equal(AlertKind.InactiveGrantAttempt,
            Assert.Single(AccessAlertRules.Evaluate(Grant, Daily, [new AccessEvent(Now.AddHours(-2), AccessOutcome.GrantInactive, true, 0)], Now)).Kind);

        var usual = Enumerable.Range(1, 28).Select(d => Served(d * 24 + 1, 500)).ToList();
        Assert.Empty(AccessAlertRules.Evaluate(Grant, Daily, [.. usual, Served(1, 1_400)], Now));
        var spike = AccessAlertRules.Evaluate(Grant, Daily, [.. usual, Served(1, 1_600)], Now);
        Assert.Equal(AlertKind.Spike, Assert.Single(spike).Kind);
        // A quiet grant's first fetch of a few hundred records is not a spike.
        Assert.Empty(AccessAlertRules.Evaluate(Grant, Daily, [Served(1, 900)], Now));
    }

    [Fact]
    public void Alert_keys_are_stable_within_a_day_so_the_job_is_idempotent()
    {
        var events = new[] { new AccessEvent(Now.AddHours(-1), AccessOutcome.GrantInactive, true, 0) };
        var first = AccessAlertRules.Evaluate(Grant, Daily, events, Now);
        var again = AccessAlertRules.Evaluate(Grant, Daily, events, Now.AddMinutes(30));
        Assert.Equal(first[0].Key, again[0].Key);
    }
}
