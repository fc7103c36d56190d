using System.Text.Json;

namespace InfoBank.Core.Access;

/// <summary>
/// Where a fetch stands: the last resident examined and, when that resident's records were cut
/// off by the page size, the position of their last record provided (<see cref="Within"/>); null
/// means the resident is finished and the next page starts with the next resident.
/// </summary>
public sealed record PagePosition(Guid Resident, string? Within)
{
    public string Encode() => Within is null ? Resident.ToString("N") : $"{Resident:N}|{Within}";

    public static PagePosition? Decode(string text)
    {
        var bar = text.IndexOf('|', StringComparison.Ordinal);
        var resident = bar < 0 ? text : text[..bar];
        return Guid.TryParseExact(resident, "N", out var id) ? new PagePosition(id, bar < 0 ? null : text[(bar + 1)..]) : null;
    }
}

/// <summary>A page: the rows provided, each with its resident, where the fetch stands, whether more may follow, and how many residents were examined.</summary>
public sealed record AssembledPage<T>(IReadOnlyList<(Guid Resident, T Row)> Rows, PagePosition? Position, bool MoreMayFollow, int ResidentsExamined);

/// <summary>
/// Builds one page of brokered records, resident by resident in a stable order. For every
/// resident the page touches, the consent decision is asked first — fresh for every page, so a
/// resident who withdrew is absent from the very next page, even one whose records were cut off
/// mid-way by the previous page — and only then are their records read (so nothing is even
/// decrypted for a resident who may not be provided). The position moves past every resident
/// examined, allowed or not, and one page examines a bounded number of residents so a grant with
/// few consenting residents cannot turn one request into a scan of everyone.
/// </summary>
public static class RecordPager
{
    /// <param name="after">Where the previous page stopped; null for the first page.</param>
    /// <param name="pageSize">Most rows on the page.</param>
    /// <param name="maxResidents">Most residents examined for the page.</param>
    /// <param name="residentsAfter">Candidate residents strictly after the given one (null: from the start), in order, at most the given count.</param>
    /// <param name="mayProvide">The consent decision for one resident, now.</param>
    /// <param name="readAfter">A resident's rows strictly after a position within them (null: from their first), in order, at most the given count, each with its position.</param>
    public static async Task<AssembledPage<T>> AssembleAsync<T>(
        PagePosition? after,
        int pageSize,
        int maxResidents,
        Func<Guid?, int, CancellationToken, Task<IReadOnlyList<Guid>>> residentsAfter,
        Func<Guid, CancellationToken, Task<bool>> mayProvide,
        Func<Guid, string?, int, CancellationToken, Task<IReadOnlyList<(T Row, string Position)>>> readAfter,
        CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pageSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxResidents);
        var page = new List<(Guid, T)>(pageSize);
        var examined = 0;
        var position = after;

        // Returns true when the page filled up inside this resident (they may have more rows).
        async Task<bool> TakeAsync(Guid resident, string? within)
        {
            examined++;
            position = new PagePosition(resident, null);
            if (!await mayProvide(resident, cancellationToken))
            {
                return false;
            }
            var want = pageSize - page.Count;
            var rows = await readAfter(resident, within, want, cancellationToken);
            foreach (var (row, _) in rows)
            {
                page.Add((resident, row));
            }
            if (rows.Count < want)
            {
                return false;
            }
            position = new PagePosition(resident, rows[^1].Position);
            return true;
        }

        if (after is { Within: not null } cut && await TakeAsync(cut.Resident, cut.Within))
        {
            return new AssembledPage<T>(page, position, true, examined);
        }
        while (examined < maxResidents)
        {
            var batch = await residentsAfter(position?.Resident, Math.Min(maxResidents - examined, 100), cancellationToken);
            if (batch.Count == 0)
            {
                return new AssembledPage<T>(page, position, false, examined);
            }
            foreach (var resident in batch)
            {
                if (await TakeAsync(resident, null))
                {
                    return new AssembledPage<T>(page, position, true, examined);
                }
                if (page.Count == pageSize || examined >= maxResidents)
                {
                    return new AssembledPage<T>(page, position, true, examined);
                }
            }
        }
        return new AssembledPage<T>(page, position, true, examined);
    }
}

/// <summary>Keeps only the approved fields of a record's JSON payload: nothing else leaves the bank.</summary>
public static class RecordProjection
{
    /// <summary>
    /// A JSON object with the members of <paramref name="payload"/> (a JSON object) whose names are in
    /// <paramref name="fields"/>, in the payload's order. Anything that is not an object yields <c>{}</c>.
    /// </summary>
    public static byte[] Project(ReadOnlySpan<byte> payload, IReadOnlySet<string> fields)
    {
        var reader = new Utf8JsonReader(payload);
        using var document = JsonDocument.ParseValue(ref reader);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                foreach (var member in document.RootElement.EnumerateObject())
                {
                    if (fields.Contains(member.Name))
                    {
                        member.WriteTo(writer);
                    }
                }
            }
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
