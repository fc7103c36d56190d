using InfoBank.Core.Access;

namespace InfoBank.Core.Tests.Access;

public sealed class TimeBucketTests
{
    private static readonly TimeSpan Jst = TimeSpan.FromHours(9);

    [Fact]
    public void Weeks_are_iso_weeks_in_local_time()
    {
        // Sunday 22 November 2026, 23:30 UTC is already Monday morning in Sapporo: the next week.
        var at = new DateTimeOffset(2026, 11, 22, 23, 30, 0, TimeSpan.Zero);
        Assert.Equal("2026-W47", TimeBuckets.Label(BucketPeriod.Week, at, TimeSpan.Zero));
        Assert.Equal("2026-W48", TimeBuckets.Label(BucketPeriod.Week, at, Jst));
        Assert.Equal("2026-W53", TimeBuckets.Label(BucketPeriod.Week, new DateTimeOffset(2027, 1, 1, 12, 0, 0, Jst), Jst));
        Assert.Equal("2026-11", TimeBuckets.Label(BucketPeriod.Month, new DateTimeOffset(2026, 11, 30, 20, 0, 0, TimeSpan.Zero), TimeSpan.Zero));
        Assert.Equal("2026-12", TimeBuckets.Label(BucketPeriod.Month, new DateTimeOffset(2026, 11, 30, 20, 0, 0, TimeSpan.Zero), Jst));
    }

    [Fact]
    public void Bounds_round_trip_and_refuse_labels_that_are_not_buckets()
    {
        var (start, end) = TimeBuckets.Bounds(BucketPeriod.Week, "2026-W47", Jst)!.Value;
        Assert.Equal(new DateTimeOffset(2026, 11, 16, 0, 0, 0, Jst), start);
        Assert.Equal(start.AddDays(7), end);
        Assert.Equal("2026-W47", TimeBuckets.Label(BucketPeriod.Week, end.AddTicks(-1), Jst));
        var month = TimeBuckets.Bounds(BucketPeriod.Month, "2026-02", Jst)!.Value;
        Assert.Equal(28, (month.End - month.Start).TotalDays);
        foreach (var bad in new[] { "2025-W53", "2026-W54", "2026-W00", "2026-w47", "26-W47", "2026-W4x", "" })
        {
            Assert.Null(TimeBuckets.Bounds(BucketPeriod.Week, bad, Jst));
        }
        foreach (var bad in new[] { "2026-13", "2026-00", "2026/11", "2026-1", "2026-W47" })
        {
            Assert.Null(TimeBuckets.Bounds(BucketPeriod.Month, bad, Jst));
        }
    }

    [Fact]
    public void Overlapping_lists_every_bucket_touching_the_window()
    {
        var from = new DateTimeOffset(2026, 11, 1, 0, 0, 0, Jst);
        var to = new DateTimeOffset(2026, 12, 1, 0, 0, 0, Jst);
        Assert.Equal(["2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49"], TimeBuckets.Overlapping(BucketPeriod.Week, from, to, Jst));
        Assert.Equal(["2026-11"], TimeBuckets.Overlapping(BucketPeriod.Month, from, to, Jst));
        Assert.Empty(TimeBuckets.Overlapping(BucketPeriod.Month, to, from, Jst));
    }

    [Theory]
    [InlineData("1990-05-10", "2026-05-09", "30-39")]
    [InlineData("1990-05-10", "2026-05-10", "30-39")]
    [InlineData("1986-05-10", "2026-05-09", "30-39")]
    [InlineData("1986-05-10", "2026-05-10", "40-49")]
    [InlineData("2004-02-29", "2024-02-28", "10-19")]
    [InlineData("2004-02-29", "2024-02-29", "20-29")]
    [InlineData("1930-01-01", "2026-11-22", "90+")]
    [InlineData("2026-11-01", "2026-11-22", "0-9")]
    public void Age_bands_are_ten_years_wide(string birth, string on, string band)
    {
        Assert.Equal(band, AgeBands.Of(DateOnly.Parse(birth, System.Globalization.CultureInfo.InvariantCulture), DateOnly.Parse(on, System.Globalization.CultureInfo.InvariantCulture)));
    }
}
