using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using InfoBank.Core.Access;

namespace InfoBank.Core.Tests.Access;

public sealed class FetchLimiterTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Daily_allows_one_fetch_per_sliding_day_and_says_when_the_next_may_start()
    {
        var daily = FetchPolicy.FromFrequency("daily", 500);
        Assert.True(FetchLimiter.CanStart(daily, [], Now).Allowed);

        var verdict = FetchLimiter.CanStart(daily, [Now.AddHours(-3)], Now);
        Assert.Equal(FetchVerdictKind.RetryLater, verdict.Kind);
        Assert.Equal(TimeSpan.FromHours(21), verdict.RetryAfter);

        Assert.True(FetchLimiter.CanStart(daily, [Now.AddHours(-24)], Now).Allowed);
        Assert.False(FetchLimiter.CanStart(daily, [Now.AddHours(-24).AddSeconds(1)], Now).Allowed);
    }

    [Fact]
    public void Retry_after_is_whole_seconds_and_at_least_one()
    {
        var daily = FetchPolicy.FromFrequency("daily", null);
        var verdict = FetchLimiter.CanStart(daily, [Now.AddDays(-1).AddMilliseconds(200)], Now);
        Assert.Equal(TimeSpan.FromSeconds(1), verdict.RetryAfter);
    }

    [Fact]
    public void Once_means_once_ever()
    {
        var once = FetchPolicy.FromFrequency("once", null);
        Assert.True(FetchLimiter.CanStart(once, [], Now).Allowed);
        var verdict = FetchLimiter.CanStart(once, [Now.AddYears(-2)], Now);
        Assert.Equal(FetchVerdictKind.Exhausted, verdict.Kind);
        Assert.Null(verdict.RetryAfter);
    }

    [Fact]
    public void Unknown_frequency_is_refused()
    {
        Assert.Throws<ArgumentException>(() => FetchPolicy.FromFrequency("hourly", null));
        Assert.Equal(TimeSpan.FromDays(7), FetchPolicy.FromFrequency("weekly", null).Period);
        Assert.Equal(TimeSpan.FromDays(30), FetchPolicy.FromFrequency("monthly", null).Period);
    }

    [Fact]
    public void Page_budget_caps_a_fetch_at_its_approved_volume()
    {
        var policy = FetchPolicy.FromFrequency("daily", 250);
        Assert.Equal(100, FetchLimiter.PageBudget(policy, 0, 100));
        Assert.Equal(50, FetchLimiter.PageBudget(policy, 200, 100));
        Assert.Equal(0, FetchLimiter.PageBudget(policy, 250, 100));
        Assert.Equal(0, FetchLimiter.PageBudget(policy, 900, 100));
        Assert.Equal(100, FetchLimiter.PageBudget(FetchPolicy.FromFrequency("daily", null), 10_000, 100));
    }

    // For any history, a start is allowed exactly when fewer than MaxFetches starts lie in the
    // window, and after waiting Retry-After it is allowed while one second earlier it is not.
    [Property(MaxTest = 300)]
    public Property Verdict_matches_the_window_and_retry_after_is_exact(PositiveInt max, PositiveInt periodMinutes, int[] offsetsSeconds)
    {
        var period = TimeSpan.FromMinutes(1 + (periodMinutes.Get % 2000));
        var policy = new FetchPolicy(1 + (max.Get % 4), period, null);
        var starts = offsetsSeconds.Select(o => Now.AddSeconds(-(Math.Abs((long)o) % (long)(period.TotalSeconds * 2)))).ToList();
        var inWindow = starts.Count(s => s > Now - period);
        var verdict = FetchLimiter.CanStart(policy, starts, Now);
        if (inWindow < policy.MaxFetches)
        {
            return verdict.Allowed.ToProperty();
        }
        var wait = verdict.RetryAfter!.Value;
        var allowedThen = FetchLimiter.CanStart(policy, starts, Now + wait).Allowed;
        var refusedJustBefore = wait <= TimeSpan.FromSeconds(1) || !FetchLimiter.CanStart(policy, starts, Now + wait - TimeSpan.FromSeconds(1)).Allowed;
        return (verdict.Kind == FetchVerdictKind.RetryLater && allowedThen && refusedJustBefore).ToProperty();
    }
}
