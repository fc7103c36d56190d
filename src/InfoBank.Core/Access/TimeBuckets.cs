using System.Globalization;

namespace InfoBank.Core.Access;

/// <summary>The time buckets aggregates are released in.</summary>
public enum BucketPeriod
{
    /// <summary>ISO 8601 weeks (Monday to Sunday), labelled <c>2026-W47</c>.</summary>
    Week,

    /// <summary>Calendar months, labelled <c>2026-11</c>.</summary>
    Month,
}

/// <summary>
/// Fixed, grant-independent time buckets in a given UTC offset (Sapporo: +09:00). Aggregates can
/// only be grouped or filtered by whole buckets, never by an arbitrary time range, so no two
/// queries can differ by a sliver of time holding a few residents.
/// </summary>
public static class TimeBuckets
{
    public static string DimensionName(BucketPeriod period) => period == BucketPeriod.Week ? "week" : "month";

    public static string Label(BucketPeriod period, DateTimeOffset at, TimeSpan offset)
    {
        var local = at.ToOffset(offset).DateTime;
        return period == BucketPeriod.Week
            ? $"{ISOWeek.GetYear(local):D4}-W{ISOWeek.GetWeekOfYear(local):D2}"
            : $"{local.Year:D4}-{local.Month:D2}";
    }

    /// <summary>Start (inclusive) and end (exclusive) of a bucket, or null for a label that is not one.</summary>
    public static (DateTimeOffset Start, DateTimeOffset End)? Bounds(BucketPeriod period, string label, TimeSpan offset)
    {
        if (period == BucketPeriod.Week)
        {
            if (label.Length != 8 || label[4] != '-' || label[5] != 'W'
                || !int.TryParse(label.AsSpan(0, 4), NumberStyles.None, CultureInfo.InvariantCulture, out var year)
                || !int.TryParse(label.AsSpan(6, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var week)
                || year is < 1 or > 9998 || week < 1 || week > ISOWeek.GetWeeksInYear(year))
            {
                return null;
            }
            var start = new DateTimeOffset(ISOWeek.ToDateTime(year, week, DayOfWeek.Monday), offset);
            return (start, start.AddDays(7));
        }
        if (label.Length != 7 || label[4] != '-'
            || !int.TryParse(label.AsSpan(0, 4), NumberStyles.None, CultureInfo.InvariantCulture, out var y)
            || !int.TryParse(label.AsSpan(5, 2), NumberStyles.None, CultureInfo.InvariantCulture, out var m)
            || y is < 1 or > 9998 || m is < 1 or > 12)
        {
            return null;
        }
        var monthStart = new DateTimeOffset(y, m, 1, 0, 0, 0, offset);
        return (monthStart, monthStart.AddMonths(1));
    }

    /// <summary>The labels of the buckets overlapping [<paramref name="from"/>, <paramref name="to"/>), in order.</summary>
    public static IEnumerable<string> Overlapping(BucketPeriod period, DateTimeOffset from, DateTimeOffset to, TimeSpan offset)
    {
        if (to <= from)
        {
            yield break;
        }
        var label = Label(period, from, offset);
        var bounds = Bounds(period, label, offset)!.Value;
        while (bounds.Start < to)
        {
            yield return label;
            label = Label(period, bounds.End, offset);
            bounds = Bounds(period, label, offset)!.Value;
        }
    }
}

/// <summary>Ten-year age bands (<c>0-9</c> … <c>80-89</c>, <c>90+</c>): an age is never released finer than that.</summary>
public static class AgeBands
{
    public static string Of(DateOnly birthDate, DateOnly on)
    {
        var age = on.Year - birthDate.Year;
        if (on < birthDate.AddYears(age))
        {
            age--;
        }
        age = Math.Max(0, age);
        return age >= 90 ? "90+" : $"{age / 10 * 10}-{age / 10 * 10 + 9}";
    }
}
