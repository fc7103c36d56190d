using InfoBank.Core.Consent;

namespace InfoBank.Core.Tests.Consent;

public sealed class ConsentWindowsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly TimeRange Grant = new(T0.AddDays(-100), T0.AddDays(100));

    private static ConsentRecord Consent(int givenDay, int? endedDay, ConsentState state = ConsentState.ConsentWithdrawn, params string[] items) =>
        new(Guid.NewGuid(), Guid.Empty, Guid.Empty, 1, items.Length > 0 ? items : ["steps.daily"], [],
            endedDay is null ? ConsentState.ConsentGiven : state, T0.AddDays(givenDay), T0.AddDays(365), endedDay is null ? null : T0.AddDays(endedDay.Value), 0);

    [Fact]
    public void From_the_day_you_consent_means_nothing_observed_before_it()
    {
        var periods = ConsentWindows.Periods([Consent(0, null)], lookbackDays: 0, Grant, T0.AddDays(10));
        Assert.False(ConsentWindows.Covers(periods, "steps.daily", T0.AddSeconds(-1)));
        Assert.True(ConsentWindows.Covers(periods, "steps.daily", T0));
        Assert.True(ConsentWindows.Covers(periods, "steps.daily", T0.AddDays(9)));
        Assert.False(ConsentWindows.Covers(periods, "body.composition", T0.AddDays(1)));
    }

    [Fact]
    public void A_look_back_reaches_before_the_first_consent_only_and_never_over_a_withdrawal()
    {
        // Given on day 0 with a 30-day look-back, withdrawn on day 5, given again on day 20.
        var periods = ConsentWindows.Periods([Consent(0, 5), Consent(20, null)], lookbackDays: 30, Grant, T0.AddDays(40));
        Assert.True(ConsentWindows.Covers(periods, "steps.daily", T0.AddDays(-29)));
        Assert.False(ConsentWindows.Covers(periods, "steps.daily", T0.AddDays(-31)));
        Assert.True(ConsentWindows.Covers(periods, "steps.daily", T0.AddDays(4)));
        // The gap while withdrawn is excluded, even though the second consent is within 30 days of it.
        Assert.False(ConsentWindows.Covers(periods, "steps.daily", T0.AddDays(5)));
        Assert.False(ConsentWindows.Covers(periods, "steps.daily", T0.AddDays(19)));
        Assert.True(ConsentWindows.Covers(periods, "steps.daily", T0.AddDays(20)));
        Assert.True(ConsentWindows.Covers(periods, "steps.daily", T0.AddDays(39)));
        Assert.False(ConsentWindows.Covers(periods, "steps.daily", T0.AddDays(40)));
    }

    [Fact]
    public void The_grants_window_bounds_everything_and_an_expired_consent_ends_at_its_expiry()
    {
        var narrow = new TimeRange(T0.AddDays(-2), T0.AddDays(3));
        var periods = ConsentWindows.Periods([Consent(0, null)], lookbackDays: 30, narrow, T0.AddDays(10));
        Assert.False(ConsentWindows.Covers(periods, "steps.daily", T0.AddDays(-3)));
        Assert.True(ConsentWindows.Covers(periods, "steps.daily", T0.AddDays(-2)));
        Assert.False(ConsentWindows.Covers(periods, "steps.daily", T0.AddDays(3)));

        var expiring = Consent(0, null) with { ExpiresAt = T0.AddDays(2) };
        var lapsed = ConsentWindows.Periods([expiring], 0, Grant, T0.AddDays(10));
        Assert.False(ConsentWindows.Covers(lapsed, "steps.daily", T0.AddDays(2)));
    }

    [Fact]
    public void Each_period_covers_the_items_of_its_own_consent()
    {
        var periods = ConsentWindows.Periods(
            [Consent(0, 5, ConsentState.ConsentInvalidated, "steps.daily", "body.composition"), Consent(6, null, ConsentState.ConsentGiven, "steps.daily")],
            0, Grant, T0.AddDays(10));
        Assert.True(ConsentWindows.Covers(periods, "body.composition", T0.AddDays(1)));
        Assert.False(ConsentWindows.Covers(periods, "body.composition", T0.AddDays(7)));
        Assert.False(ConsentWindows.Covers(periods, "steps.daily", T0.AddDays(5.5)));
        Assert.True(ConsentWindows.Covers(periods, "steps.daily", T0.AddDays(7)));
    }
}
