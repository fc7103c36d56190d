using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using InfoBank.Core.Access;

namespace InfoBank.Core.Tests.Access;

public sealed class AggregateEngineTests
{
    private static readonly TimeSpan Jst = TimeSpan.FromHours(9);

    // November 2026 in Sapporo: ISO weeks 45 to 49 overlap it.
    private static readonly AggregateSpec Spec = new(
        ["ward", "ageBand"], ["steps", "activeMinutes"], K: 5, BucketPeriod.Week, Jst,
        new DateTimeOffset(2026, 11, 1, 0, 0, 0, Jst), new DateTimeOffset(2026, 12, 1, 0, 0, 0, Jst));

    private static readonly DateTimeOffset Week46 = new(2026, 11, 10, 9, 0, 0, Jst);
    private static readonly DateTimeOffset Week47 = new(2026, 11, 17, 9, 0, 0, Jst);

    private static AggregateQuery Query(string[] groupBy, Dictionary<string, IReadOnlyList<string>>? filters = null, params string[] measures) =>
        new(groupBy, [.. (measures.Length == 0 ? ["count", "sum:steps", "mean:steps", "median:steps"] : measures).Select(Measure)], filters);

    private static AggregateMeasure Measure(string text) =>
        text.Split(':') is [var f, var field] ? new AggregateMeasure(f, field) : new AggregateMeasure(text, null);

    private static IEnumerable<AggregateRow> Residents(int count, string ward, string ageBand, DateTimeOffset at, double steps, int days = 1)
    {
        for (var i = 0; i < count; i++)
        {
            var resident = Guid.NewGuid();
            for (var d = 0; d < days; d++)
            {
                yield return new AggregateRow(resident, at.AddDays(d), [ward, ageBand], [steps + i, double.NaN]);
            }
        }
    }

    private static List<ReleasedCell> ReleaseAll(IEnumerable<AggregateRow> rows)
    {
        var list = rows.ToList();
        return [.. TimeBuckets.Overlapping(Spec.Period, Spec.WindowFrom, Spec.WindowTo, Jst).SelectMany(b => AggregateEngine.Release(Spec, b, list))];
    }

    [Fact]
    public void K_counts_distinct_residents_not_records()
    {
        // One resident walking every day of the week is 6 records but one person: suppressed.
        var cells = ReleaseAll(Residents(1, "Chuo", "30-39", Week46, 9000, days: 6)
            .Concat(Residents(4, "Kita", "30-39", Week46, 8000, days: 6))
            .Concat(Residents(5, "Nishi", "30-39", Week46, 7000)));
        Assert.True(cells.Single(c => c.Key[0] == "Chuo").Suppressed);
        Assert.True(cells.Single(c => c.Key[0] == "Kita").Suppressed);
        var nishi = cells.Single(c => c.Key[0] == "Nishi");
        Assert.False(nishi.Suppressed);
        Assert.Equal(5, nishi.Residents);
    }

    private static readonly double BinFactor = Math.Pow(2, 1.0 / ValueBins.PerDoubling);

    [Fact]
    public void Computes_count_sum_mean_and_approximate_median_across_cells()
    {
        var cells = ReleaseAll(Residents(5, "Chuo", "30-39", Week46, 1000).Concat(Residents(6, "Chuo", "40-49", Week46, 2000)));
        var answer = AggregateEngine.Answer(Spec, Query(["ward"]), cells);
        var chuo = Assert.Single(answer.Groups);
        // Values: 1000..1004 and 2000..2005.
        double[] all = [1000, 1001, 1002, 1003, 1004, 2000, 2001, 2002, 2003, 2004, 2005];
        Assert.Equal(11, chuo.Values["count"]);
        Assert.Equal(all.Sum(), chuo.Values["sum:steps"]);
        Assert.Equal(all.Average(), chuo.Values["mean:steps"]);
        // The median is estimated from bins (no cell keeps a resident's value): within one bin,
        // a factor of 2^(1/8), of the exact 2000.
        Assert.InRange(chuo.Values["median:steps"]!.Value, 2000 / BinFactor, 2000 * BinFactor);
        Assert.False(chuo.Partial);

        var byBand = AggregateEngine.Answer(Spec, Query(["ageBand"], null, "median:steps", "count:activeMinutes", "mean:activeMinutes"), cells);
        Assert.InRange(byBand.Groups.Single(g => g.Key["ageBand"] == "40-49").Values["median:steps"]!.Value, 2002.5 / BinFactor, 2002.5 * BinFactor);
        Assert.Equal(0, byBand.Groups[0].Values["count:activeMinutes"]);
        Assert.Null(byBand.Groups[0].Values["mean:activeMinutes"]);
    }

    // The attack: ask for steps by ward, then by ward and age band; subtract the released age bands
    // from the ward total to recover the three residents in their eighties. It must yield nothing.
    [Fact]
    public void Differencing_a_marginal_against_its_breakdown_reveals_nothing_about_a_small_group()
    {
        var rows = Residents(10, "Chuo", "30-39", Week46, 8000)
            .Concat(Residents(3, "Chuo", "80-89", Week46, 150_000))
            .Concat(Residents(10, "Kita", "30-39", Week46, 7000))
            .ToList();
        var cells = ReleaseAll(rows);

        var byWard = AggregateEngine.Answer(Spec, Query(["ward"]), cells);
        var byWardAndBand = AggregateEngine.Answer(Spec, Query(["ward", "ageBand"]), cells);
        var total = AggregateEngine.Answer(Spec, Query([]), cells);
        var onlyEighties = AggregateEngine.Answer(Spec, Query([], new() { ["ageBand"] = ["80-89"] }), cells);

        var chuo = byWard.Groups.Single(g => g.Key["ward"] == "Chuo");
        var releasedChuo = byWardAndBand.Groups.Where(g => g.Key["ward"] == "Chuo" && !g.Suppressed).ToList();
        Assert.Equal(0, chuo.Values["sum:steps"] - releasedChuo.Sum(g => g.Values["sum:steps"]));
        Assert.Equal(0, chuo.Values["count"] - releasedChuo.Sum(g => g.Values["count"]));
        Assert.Equal(0, total.Groups[0].Values["sum:steps"] - byWard.Groups.Sum(g => g.Values["sum:steps"]));
        Assert.True(chuo.Partial);
        Assert.True(byWardAndBand.Groups.Single(g => g.Key["ageBand"] == "80-89").Suppressed);
        Assert.Empty(byWardAndBand.Groups.Single(g => g.Key["ageBand"] == "80-89").Values);
        Assert.True(Assert.Single(onlyEighties.Groups).Suppressed);
        Assert.Equal(1, byWardAndBand.SuppressedGroups);
        // The 150,000-step walkers leave no trace in any figure: no maximum, no sum, no median moves.
        Assert.All(new[] { byWard, byWardAndBand, total }.SelectMany(a => a.Groups).Where(g => !g.Suppressed),
            g => Assert.True(g.Values["median:steps"] < 150_000 && g.Values["mean:steps"] < 150_000));
    }

    // The other attack: the same query before and after one resident withdraws. Cells are released
    // once per closed week and never recomputed, so both answers are identical.
    [Fact]
    public void A_withdrawal_between_two_queries_cannot_be_differenced()
    {
        var rows = Residents(6, "Chuo", "30-39", Week46, 8000).ToList();
        var released = new Dictionary<string, IReadOnlyList<ReleasedCell>>();
        var now = new DateTimeOffset(2026, 11, 25, 0, 0, 0, Jst);
        var settle = TimeSpan.FromDays(2);
        foreach (var bucket in AggregateEngine.DueBuckets(Spec, released.Keys.ToHashSet(), now, settle))
        {
            released[bucket] = AggregateEngine.Release(Spec, bucket, rows);
        }
        var before = AggregateEngine.Answer(Spec, Query(["ward"]), released.Values.SelectMany(c => c));

        var withdrawn = rows[0].ResidentId;
        rows.RemoveAll(r => r.ResidentId == withdrawn);
        Assert.Empty(AggregateEngine.DueBuckets(Spec, released.Keys.ToHashSet(), now.AddHours(1), settle));
        var after = AggregateEngine.Answer(Spec, Query(["ward"]), released.Values.SelectMany(c => c));

        Assert.Equal(before.Groups[0].Values, after.Groups[0].Values);
        // Recomputing from the rows would have exposed the withdrawn resident's steps exactly.
        var naive = AggregateEngine.Answer(Spec, Query(["ward"]), AggregateEngine.Release(Spec, "2026-W46", rows));
        Assert.Equal(8000, before.Groups[0].Values["sum:steps"] - naive.Groups[0].Values["sum:steps"]);
    }

    [Fact]
    public void Only_closed_and_settled_weeks_of_the_window_are_due_once()
    {
        var settle = TimeSpan.FromDays(2);
        // Week 47 ends Monday 23 November 00:00 JST; with two days to settle it is due from the 25th.
        var tuesday = new DateTimeOffset(2026, 11, 24, 12, 0, 0, Jst);
        Assert.Equal(["2026-W44", "2026-W45", "2026-W46"], AggregateEngine.DueBuckets(Spec, new HashSet<string>(), tuesday, settle));
        Assert.Equal(["2026-W47"], AggregateEngine.DueBuckets(Spec, new HashSet<string> { "2026-W44", "2026-W45", "2026-W46" }, tuesday.AddDays(1), settle));
        var afterWindow = new DateTimeOffset(2027, 3, 1, 0, 0, 0, Jst);
        Assert.Equal("2026-W49", AggregateEngine.DueBuckets(Spec, new HashSet<string>(), afterWindow, settle)[^1]);
    }

    [Fact]
    public void Release_ignores_rows_outside_the_bucket_and_the_window()
    {
        var rows = Residents(5, "Chuo", "30-39", Week46, 8000)
            .Concat(Residents(5, "Kita", "30-39", Week47, 8000))
            .Concat(Residents(5, "Nishi", "30-39", new DateTimeOffset(2026, 10, 31, 12, 0, 0, Jst), 8000));
        var week44 = AggregateEngine.Release(Spec, "2026-W44", rows);
        Assert.Empty(week44);
        Assert.Equal("Chuo", Assert.Single(AggregateEngine.Release(Spec, "2026-W46", rows)).Key[0]);
    }

    public static TheoryData<string, string> BadQueries => new()
    {
        { "groupBy:placeId", "groupBy[0]" },
        { "groupBy:ward,ward", "groupBy[1]" },
        { "filter:residentId=abc", "filters.residentId" },
        { "filter:week=2026-W60", "filters.week" },
        { "measure:sum:weightKg", "measures[0].field" },
        { "measure:max:steps", "measures[0].function" },
        { "measure:sum", "measures[0].field" },
        { "measure:", "measures" },
    };

    [Theory]
    [MemberData(nameof(BadQueries))]
    public void Unapproved_dimensions_fields_and_functions_are_refused_by_name(string bad, string path)
    {
        var parts = bad.Split(':', 2);
        var query = parts[0] switch
        {
            "groupBy" => Query(parts[1].Split(',')),
            "filter" => Query(["ward"], new() { [parts[1].Split('=')[0]] = [parts[1].Split('=')[1]] }),
            _ => parts[1] == "" ? new AggregateQuery(["ward"], [], null) : Query(["ward"], null, parts[1]),
        };
        var errors = AggregateEngine.Validate(Spec, query);
        Assert.Contains(path, errors.Keys);
        Assert.Throws<ArgumentException>(() => AggregateEngine.Answer(Spec, query, []));
    }

    [Fact]
    public void The_period_is_a_dimension_and_filters_select_whole_weeks()
    {
        var cells = ReleaseAll(Residents(5, "Chuo", "30-39", Week46, 1000).Concat(Residents(7, "Chuo", "30-39", Week47, 1000)));
        var byWeek = AggregateEngine.Answer(Spec, Query(["week"]), cells);
        Assert.Equal(["2026-W46", "2026-W47"], byWeek.Groups.Select(g => g.Key["week"]));
        var one = AggregateEngine.Answer(Spec, Query(["ward"], new() { ["week"] = ["2026-W47"] }), cells);
        Assert.Equal(7, one.Groups[0].Values["count"]);
        Assert.Empty(AggregateEngine.Validate(Spec, Query(["week", "ward"], new() { ["week"] = ["2026-W46", "2026-W47"] })));
    }

    // For random populations and random queries: perturbing anything in the rows of suppressed cells
    // (values, how many records) changes no figure of any answer. Whatever a business combines, the
    // residents of groups smaller than k are not in it.
    [Property(MaxTest = 150)]
    public Property Answers_do_not_depend_on_residents_of_suppressed_cells(int seed)
    {
        var random = new Random(seed);
        var rows = RandomRows(random);
        var cells = ReleaseAll(rows);
        var suppressed = cells.Where(c => c.Suppressed).Select(c => (c.Bucket, string.Join('|', c.Key))).ToHashSet();
        bool InSuppressed(AggregateRow r) => suppressed.Contains((TimeBuckets.Label(Spec.Period, r.At, Jst), string.Join('|', r.Dimensions)));
        var perturbed = rows.Select(r => InSuppressed(r) ? r with { Values = [r.Values[0] * 7 + 13, 42] } : r)
            .Concat(rows.Where(InSuppressed).Take(1).Select(r => r with { Values = [999_999, 1] }))
            .ToList();
        var cellsAfter = ReleaseAll(perturbed);
        var ok = true;
        for (var q = 0; q < 6; q++)
        {
            var query = RandomQuery(random);
            var a = AggregateEngine.Answer(Spec, query, cells);
            var b = AggregateEngine.Answer(Spec, query, cellsAfter);
            ok &= a.Groups.Count == b.Groups.Count && a.Groups.Zip(b.Groups).All(p =>
                p.First.Suppressed == p.Second.Suppressed && p.First.Partial == p.Second.Partial
                && p.First.Values.Count == p.Second.Values.Count
                && p.First.Values.All(v => Equal(v.Value, p.Second.Values[v.Key])));
        }
        return ok.ToProperty();
    }

    // Every figure of every group is the figure of its released cells; each released cell holds at
    // least k distinct residents (counted from the raw rows).
    [Property(MaxTest = 150)]
    public Property Groups_are_unions_of_released_cells_of_at_least_k_residents(int seed)
    {
        var random = new Random(seed);
        var rows = RandomRows(random);
        var cells = ReleaseAll(rows);
        var residentsPerCell = rows.GroupBy(r => (TimeBuckets.Label(Spec.Period, r.At, Jst), string.Join('|', r.Dimensions)))
            .ToDictionary(g => g.Key, g => g.Select(r => r.ResidentId).Distinct().Count());
        var ok = cells.Where(c => !c.Suppressed).All(c => residentsPerCell[(c.Bucket, string.Join('|', c.Key))] >= Spec.K)
            && cells.Where(c => c.Suppressed).All(c => residentsPerCell[(c.Bucket, string.Join('|', c.Key))] < Spec.K);
        var query = RandomQuery(random);
        foreach (var group in AggregateEngine.Answer(Spec, query, cells).Groups.Where(g => !g.Suppressed))
        {
            var members = cells.Where(c => !c.Suppressed
                && group.Key.All(k => (k.Key == "week" ? c.Bucket : c.Key[k.Key == "ward" ? 0 : 1]) == k.Value)
                && (query.Filters ?? new Dictionary<string, IReadOnlyList<string>>()).All(f => f.Value.Contains(f.Key == "week" ? c.Bucket : c.Key[f.Key == "ward" ? 0 : 1]))).ToList();
            ok &= group.Values["count"] == members.Sum(c => c.Records);
        }
        return ok.ToProperty();
    }

    private static bool Equal(double? a, double? b) => a is null ? b is null : b is not null && Math.Abs(a.Value - b.Value) <= 1e-9 * Math.Max(1, Math.Abs(a.Value));

    private static readonly string[] Wards = ["Chuo", "Kita", "Higashi"];
    private static readonly string[] Bands = ["20-29", "30-39", "80-89"];
    private static readonly string[] Weeks = ["2026-W45", "2026-W46", "2026-W47"];

    private static List<AggregateRow> RandomRows(Random random)
    {
        var residents = Enumerable.Range(0, random.Next(1, 60)).Select(_ => Guid.NewGuid()).ToList();
        var rows = new List<AggregateRow>();
        foreach (var resident in residents)
        {
            var ward = Wards[random.Next(Wards.Length)];
            var band = Bands[random.Next(Bands.Length)];
            for (var i = random.Next(0, 8); i > 0; i--)
            {
                var week = TimeBuckets.Bounds(BucketPeriod.Week, Weeks[random.Next(Weeks.Length)], Jst)!.Value.Start;
                rows.Add(new AggregateRow(resident, week.AddHours(random.Next(0, 7 * 24)), [ward, band],
                    [random.Next(0, 30_000), random.Next(4) == 0 ? double.NaN : random.Next(0, 300)]));
            }
        }
        return rows;
    }

    private static AggregateQuery RandomQuery(Random random)
    {
        string[] dims = ["ward", "ageBand", "week"];
        var groupBy = dims.Where(_ => random.Next(2) == 0).ToArray();
        var filters = new Dictionary<string, IReadOnlyList<string>>();
        if (random.Next(3) == 0)
        {
            filters["ward"] = Wards.Where(_ => random.Next(2) == 0).DefaultIfEmpty("Chuo").ToList();
        }
        if (random.Next(3) == 0)
        {
            filters["week"] = Weeks.Where(_ => random.Next(2) == 0).DefaultIfEmpty("2026-W46").ToList();
        }
        return Query(groupBy, filters, "count", "sum:steps", "mean:steps", "median:steps", "count:activeMinutes", "median:activeMinutes");
    }
}

public sealed class ApproximateMedianTests
{
    private static double Draw(Random random) => random.Next(6) switch
    {
        0 => 0,
        1 => -random.Next(1, 50_000) / 7.0,
        2 => random.Next(0, 12),
        _ => random.NextDouble() * Math.Pow(10, random.Next(-3, 7)),
    };

    // Each middle rank is placed inside the bin of the value that holds it, so the estimate lies
    // between the low edge of the lower middle value's bin and the high edge of the upper one's.
    [Property(MaxTest = 500)]
    public Property Lies_in_the_bins_of_the_exact_middle_values(int seed)
    {
        var random = new Random(seed);
        var cells = Enumerable.Range(0, random.Next(1, 8))
            .Select(_ => Enumerable.Range(0, random.Next(0, 30)).Select(_ => Draw(random)).ToList())
            .ToList();
        var all = cells.SelectMany(v => v).Order().ToArray();
        if (all.Length == 0)
        {
            return true.ToProperty();
        }
        var estimate = AggregateEngine.ApproximateMedian([.. cells.Select(FieldSummary.Of)], all.Length);
        var low = ValueBins.Bounds(ValueBins.Of(all[(all.Length - 1) / 2])).Low;
        var high = ValueBins.Bounds(ValueBins.Of(all[all.Length / 2])).High;
        return (estimate >= low - (1e-9 * Math.Abs(low)) && estimate <= high + (1e-9 * Math.Abs(high))).ToProperty();
    }

    [Property(MaxTest = 500)]
    public Property A_bin_holds_its_value_and_bins_sort_as_values_do(int seed)
    {
        var random = new Random(seed);
        var (a, b) = (Draw(random), Draw(random));
        var (low, high) = ValueBins.Bounds(ValueBins.Of(a));
        var holds = a == 0 ? low == 0 && high == 0 : a >= low * (a > 0 ? 1 - 1e-12 : 1 + 1e-12) && a <= high * (a > 0 ? 1 + 1e-12 : 1 - 1e-12);
        return (holds && (a > b ? ValueBins.Of(a) >= ValueBins.Of(b) : ValueBins.Of(a) <= ValueBins.Of(b))).ToProperty();
    }

    [Fact]
    public void Keeps_counts_and_a_sum_only()
    {
        var summary = FieldSummary.Of([30, 30, 30.5, 8001]);
        Assert.Equal(4, summary.Count);
        Assert.Equal(8091.5, summary.Sum);
        Assert.Equal([3, 1], summary.Bins.Select(b => b.Count));
        Assert.Equal(summary.Bins.OrderBy(b => b.Bin), summary.Bins);
    }
}
