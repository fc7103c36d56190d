namespace InfoBank.Core.Access;

/// <summary>
/// What a grant approved for aggregate output: the dimensions results may be grouped by (each
/// already coarse, e.g. ward and ten-year age band), the numeric fields that may be summarised,
/// the minimum group size <see cref="K"/> in distinct residents, the release period and the data window.
/// </summary>
public sealed record AggregateSpec(
    IReadOnlyList<string> Dimensions,
    IReadOnlyList<string> Fields,
    int K,
    BucketPeriod Period,
    TimeSpan UtcOffset,
    DateTimeOffset WindowFrom,
    DateTimeOffset WindowTo)
{
    public string PeriodDimension => TimeBuckets.DimensionName(Period);
}

/// <summary>
/// One input row: a resident's record (or a per-resident summary) with its time, its value for each
/// of the spec's dimensions (same order) and for each of its fields (same order; NaN when absent).
/// </summary>
public sealed record AggregateRow(Guid ResidentId, DateTimeOffset At, string[] Dimensions, double[] Values);

/// <summary>
/// The released summary of one field in one cell: how many values, their sum, and how many fall in
/// each bin of <see cref="ValueBins"/> (for approximate medians). Only counts and a sum: no value of
/// any one resident is kept, so a frozen cell cannot give back what a resident deposited.
/// </summary>
public sealed record FieldSummary(int Count, double Sum, ValueBin[] Bins)
{
    /// <summary>The summary of <paramref name="values"/> (any order).</summary>
    public static FieldSummary Of(IReadOnlyCollection<double> values) =>
        new(values.Count, values.Sum(), [.. values.GroupBy(ValueBins.Of).Select(g => new ValueBin(g.Key, g.Count())).OrderBy(b => b.Bin)]);
}

/// <summary>How many values of a field fall in one bin (see <see cref="ValueBins"/>).</summary>
public readonly record struct ValueBin(int Bin, int Count);

/// <summary>
/// Fixed, data-independent bins on a logarithmic scale: <see cref="PerDoubling"/> bins between each
/// power of two and the next (each about 9 % wide), mirrored for negative values, one bin for zero.
/// Bin numbers sort as their values do. A median estimated from them lies in the same bin as the
/// exact median, so within a factor 2^(1/8) (under 9.1 %) of it.
/// </summary>
public static class ValueBins
{
    public const int PerDoubling = 8;

    // log2 of the smallest positive double is -1074: every non-zero value gets a bin number above 0.
    private const int Offset = (PerDoubling * 1075) + 1;

    public static int Of(double value)
    {
        if (value == 0 || double.IsNaN(value))
        {
            return 0;
        }
        var bin = (int)Math.Floor(Math.Log2(Math.Abs(value)) * PerDoubling) + Offset;
        return value > 0 ? bin : -bin;
    }

    /// <summary>The values a bin holds: [Low, High).</summary>
    public static (double Low, double High) Bounds(int bin)
    {
        if (bin == 0)
        {
            return (0, 0);
        }
        var magnitude = Math.Abs(bin) - Offset;
        var low = Math.Pow(2, (double)magnitude / PerDoubling);
        var high = Math.Pow(2, (double)(magnitude + 1) / PerDoubling);
        return bin > 0 ? (low, high) : (-high, -low);
    }
}

/// <summary>
/// One cell of a grant's release table: one time bucket × one value of every approved dimension.
/// A suppressed cell (fewer than k distinct residents) keeps only its key: its residents take part
/// in no figure, ever. Cells are computed once, when their bucket has closed, and stored frozen.
/// </summary>
public sealed record ReleasedCell(string Bucket, string[] Key, bool Suppressed, int Residents, int Records, FieldSummary[]? Fields);

/// <summary>A requested figure: <c>count</c> (records), or <c>count</c>/<c>sum</c>/<c>mean</c>/<c>median</c> (approximate, from bins) of a field.</summary>
public sealed record AggregateMeasure(string Function, string? Field)
{
    public string Name => Field is null ? Function : $"{Function}:{Field}";
}

/// <summary>A query: group by some approved dimensions, figures of approved fields, optional filters on approved dimensions' values.</summary>
public sealed record AggregateQuery(
    IReadOnlyList<string> GroupBy,
    IReadOnlyList<AggregateMeasure> Measures,
    IReadOnlyDictionary<string, IReadOnlyList<string>>? Filters);

/// <summary>
/// One group of an answer. <see cref="Suppressed"/>: every cell in it has fewer than k residents,
/// no figures are given. <see cref="Partial"/>: some of its cells were suppressed and their
/// residents are left out of the figures.
/// </summary>
public sealed record AggregateGroup(
    IReadOnlyDictionary<string, string> Key,
    bool Suppressed,
    bool Partial,
    IReadOnlyDictionary<string, double?> Values);

/// <summary>An answer: the groups, how many are suppressed, and the rule that suppressed them.</summary>
public sealed record AggregateAnswer(
    IReadOnlyList<AggregateGroup> Groups,
    int K,
    int SuppressedGroups,
    int PartialGroups,
    string Suppression);

/// <summary>
/// Aggregates with k-suppression that differencing cannot undo.
/// <para>
/// The defence: every answer of a grant is computed from one release table whose cells are the
/// finest grouping the grant allows (time bucket × every approved dimension). A cell with fewer
/// than k distinct residents is suppressed, and its records are left out of every figure of every
/// query of the grant — coarser groups are built only from released cells, never recomputed from
/// the raw rows. Queries can only group and filter by approved dimensions and whole time buckets,
/// so any group is a union of whole cells, and the difference between any two answers (overlapping
/// or not) is a combination of released cells, each with at least k residents. Cells are released
/// once, after their bucket closes, and never recomputed, so a withdrawal, an erasure or a late
/// deposit cannot make two answers of the same grant differ by one resident either.
/// </para>
/// </summary>
public static class AggregateEngine
{
    public static readonly string[] Functions = ["count", "sum", "mean", "median"];

    public const string SuppressionRule =
        "Cells (time bucket × every approved dimension) with fewer than k distinct residents are suppressed: their residents are left out of every figure of every query of this grant, so no difference of two answers can reveal them. Groups made only of suppressed cells are listed as suppressed without figures; groups with some suppressed cells are marked partial.";

    /// <summary>
    /// Computes the frozen cells of one closed <paramref name="bucket"/> from every row of it;
    /// rows outside the bucket or the data window are ignored.
    /// </summary>
    public static IReadOnlyList<ReleasedCell> Release(AggregateSpec spec, string bucket, IEnumerable<AggregateRow> rows)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var bounds = TimeBuckets.Bounds(spec.Period, bucket, spec.UtcOffset)
            ?? throw new ArgumentException($"'{bucket}' is not a {spec.PeriodDimension} label.", nameof(bucket));
        var from = bounds.Start > spec.WindowFrom ? bounds.Start : spec.WindowFrom;
        var to = bounds.End < spec.WindowTo ? bounds.End : spec.WindowTo;
        var cells = new Dictionary<string, CellBuilder>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            if (row.At < from || row.At >= to)
            {
                continue;
            }
            if (row.Dimensions.Length != spec.Dimensions.Count || row.Values.Length != spec.Fields.Count)
            {
                throw new ArgumentException("A row's dimensions and values must follow the spec's order and length.", nameof(rows));
            }
            var key = string.Join('\u001f', row.Dimensions);
            if (!cells.TryGetValue(key, out var cell))
            {
                cells[key] = cell = new CellBuilder(row.Dimensions, spec.Fields.Count);
            }
            cell.Add(row);
        }
        return cells.Values
            .Select(c => c.Build(bucket, spec.K))
            .OrderBy(c => string.Join('\u001f', c.Key), StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// The buckets of the data window that have closed (ended at least <paramref name="settle"/>
    /// ago, so late deposits are in) and are not released yet: the only ones ever to be released.
    /// </summary>
    public static IReadOnlyList<string> DueBuckets(AggregateSpec spec, IReadOnlySet<string> released, DateTimeOffset now, TimeSpan settle) =>
        TimeBuckets.Overlapping(spec.Period, spec.WindowFrom, spec.WindowTo, spec.UtcOffset)
            .Where(b => !released.Contains(b) && TimeBuckets.Bounds(spec.Period, b, spec.UtcOffset)!.Value.End + settle <= now)
            .ToList();

    /// <summary>Problems with a query, by JSON path; empty when it may be answered.</summary>
    public static Dictionary<string, string[]> Validate(AggregateSpec spec, AggregateQuery? query)
    {
        var errors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        void Add(string key, string message)
        {
            if (!errors.TryGetValue(key, out var list))
            {
                errors[key] = list = [];
            }
            list.Add(message);
        }
        var dimensions = Allowed(spec);
        if (query is null)
        {
            Add("$", "the query is empty");
            return Done();
        }
        var groupBy = query.GroupBy ?? [];
        for (var i = 0; i < groupBy.Count; i++)
        {
            if (!dimensions.Contains(groupBy[i]))
            {
                Add($"groupBy[{i}]", $"'{groupBy[i]}' is not a dimension this grant approved ({string.Join(", ", dimensions)})");
            }
            else if (groupBy.Take(i).Contains(groupBy[i], StringComparer.Ordinal))
            {
                Add($"groupBy[{i}]", $"'{groupBy[i]}' is listed twice");
            }
        }
        if (query.Measures is null || query.Measures.Count == 0)
        {
            Add("measures", "at least one measure is required (count, or count/sum/mean/median of an approved field)");
        }
        else if (query.Measures.Count > 32)
        {
            Add("measures", "at most 32 measures");
        }
        else
        {
            for (var i = 0; i < query.Measures.Count; i++)
            {
                var measure = query.Measures[i];
                if (measure is null || !Functions.Contains(measure.Function, StringComparer.Ordinal))
                {
                    Add($"measures[{i}].function", $"'{measure?.Function}' is not a function ({string.Join(", ", Functions)})");
                }
                else if (measure.Field is null && measure.Function != "count")
                {
                    Add($"measures[{i}].field", $"{measure.Function} needs a field");
                }
                if (measure?.Field is { } field && !spec.Fields.Contains(field, StringComparer.Ordinal))
                {
                    Add($"measures[{i}].field", $"'{field}' is not a field this grant approved ({string.Join(", ", spec.Fields)})");
                }
            }
        }
        foreach (var (dimension, values) in query.Filters ?? new Dictionary<string, IReadOnlyList<string>>())
        {
            if (!dimensions.Contains(dimension))
            {
                Add($"filters.{dimension}", $"'{dimension}' is not a dimension this grant approved ({string.Join(", ", dimensions)})");
            }
            else if (values is null || values.Count is 0 or > 500)
            {
                Add($"filters.{dimension}", "a filter lists between 1 and 500 values");
            }
            else if (dimension == spec.PeriodDimension && values.FirstOrDefault(v => TimeBuckets.Bounds(spec.Period, v ?? "", spec.UtcOffset) is null) is { } bad)
            {
                Add($"filters.{dimension}", $"'{bad}' is not a {dimension} label (e.g. {TimeBuckets.Label(spec.Period, spec.WindowFrom, spec.UtcOffset)})");
            }
        }
        return Done();

        Dictionary<string, string[]> Done() => errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal);
    }

    /// <summary>
    /// Answers a valid query (see <see cref="Validate"/>) from the grant's frozen cells only. Groups
    /// are ordered by their key.
    /// </summary>
    public static AggregateAnswer Answer(AggregateSpec spec, AggregateQuery query, IEnumerable<ReleasedCell> cells)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(query);
        if (Validate(spec, query).Count > 0)
        {
            throw new ArgumentException("The query is not valid for this grant; validate it first.", nameof(query));
        }
        var indexOf = spec.Dimensions.Select((d, i) => (d, i)).ToDictionary(x => x.d, x => x.i, StringComparer.Ordinal);
        var fieldIndex = spec.Fields.Select((f, i) => (f, i)).ToDictionary(x => x.f, x => x.i, StringComparer.Ordinal);
        var filters = (query.Filters ?? new Dictionary<string, IReadOnlyList<string>>())
            .Select(f => (Get: Accessor(spec, indexOf, f.Key), Values: f.Value.ToHashSet(StringComparer.Ordinal)))
            .ToList();
        var groupBy = query.GroupBy.Select(g => Accessor(spec, indexOf, g)).ToList();

        var groups = new SortedDictionary<string, (string[] Key, List<ReleasedCell> Cells)>(StringComparer.Ordinal);
        foreach (var cell in cells)
        {
            if (!filters.TrueForAll(f => f.Values.Contains(f.Get(cell))))
            {
                continue;
            }
            var key = groupBy.Select(g => g(cell)).ToArray();
            var joined = string.Join('\u001f', key);
            if (!groups.TryGetValue(joined, out var group))
            {
                groups[joined] = group = (key, []);
            }
            group.Cells.Add(cell);
        }

        var result = new List<AggregateGroup>(groups.Count);
        foreach (var (key, members) in groups.Values)
        {
            var named = query.GroupBy.Select((g, i) => (g, i)).ToDictionary(x => x.g, x => key[x.i], StringComparer.Ordinal);
            var released = members.Where(c => !c.Suppressed).ToList();
            if (released.Count == 0)
            {
                result.Add(new AggregateGroup(named, true, false, new Dictionary<string, double?>(StringComparer.Ordinal)));
                continue;
            }
            var values = new Dictionary<string, double?>(StringComparer.Ordinal);
            foreach (var measure in query.Measures)
            {
                values[measure.Name] = Compute(measure, released, measure.Field is null ? -1 : fieldIndex[measure.Field]);
            }
            result.Add(new AggregateGroup(named, false, released.Count < members.Count, values));
        }
        return new AggregateAnswer(result, spec.K, result.Count(g => g.Suppressed), result.Count(g => g.Partial), SuppressionRule);
    }

    private static HashSet<string> Allowed(AggregateSpec spec) =>
        [.. spec.Dimensions, spec.PeriodDimension];

    private static Func<ReleasedCell, string> Accessor(AggregateSpec spec, Dictionary<string, int> indexOf, string dimension) =>
        dimension == spec.PeriodDimension ? c => c.Bucket : c => c.Key[indexOf[dimension]];

    private static double? Compute(AggregateMeasure measure, List<ReleasedCell> cells, int field)
    {
        if (field < 0)
        {
            return cells.Sum(c => (double)c.Records);
        }
        var summaries = cells.Select(c => c.Fields![field]).ToList();
        var count = summaries.Sum(s => s.Count);
        switch (measure.Function)
        {
            case "count":
                return count;
            case "sum":
                return summaries.Sum(s => s.Sum);
            case "mean":
                return count == 0 ? null : summaries.Sum(s => s.Sum) / count;
            default:
                return count == 0 ? null : ApproximateMedian(summaries, count);
        }
    }

    /// <summary>
    /// The median estimated from the cells' bins: the two middle ranks (one when the count is odd)
    /// are placed inside the bin that holds them, the bin's values taken as spread evenly across it.
    /// An exact median would be one resident's actual value whenever the count is odd; this is built
    /// from the bins' edges and counts alone.
    /// </summary>
    internal static double ApproximateMedian(List<FieldSummary> summaries, int count)
    {
        var bins = summaries.SelectMany(s => s.Bins).GroupBy(b => b.Bin).Select(g => (Bin: g.Key, Count: g.Sum(b => b.Count))).OrderBy(b => b.Bin).ToList();
        return (ValueAtRank(bins, (count - 1) / 2) + ValueAtRank(bins, count / 2)) / 2;
    }

    private static double ValueAtRank(List<(int Bin, int Count)> bins, int rank)
    {
        var before = 0;
        foreach (var (bin, count) in bins)
        {
            if (rank < before + count)
            {
                var (low, high) = ValueBins.Bounds(bin);
                return low + ((high - low) * (rank - before + 0.5) / count);
            }
            before += count;
        }
        throw new ArgumentOutOfRangeException(nameof(rank), "The rank is beyond the values the bins hold.");
    }

    private sealed class CellBuilder(string[] key, int fields)
    {
        private readonly HashSet<Guid> _residents = [];
        private readonly List<double>[] _values = [.. Enumerable.Range(0, fields).Select(_ => new List<double>())];
        private int _records;

        public void Add(AggregateRow row)
        {
            _residents.Add(row.ResidentId);
            _records++;
            for (var i = 0; i < _values.Length; i++)
            {
                if (!double.IsNaN(row.Values[i]))
                {
                    _values[i].Add(row.Values[i]);
                }
            }
        }

        public ReleasedCell Build(string bucket, int k)
        {
            if (_residents.Count < k)
            {
                return new ReleasedCell(bucket, key, true, 0, 0, null);
            }
            var summaries = _values.Select(FieldSummary.Of).ToArray();
            return new ReleasedCell(bucket, key, false, _residents.Count, _records, summaries);
        }
    }
}
