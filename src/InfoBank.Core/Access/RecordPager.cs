using System.Text.Json;

namespace InfoBank.Core.Access;

/// <summary>A candidate row read in keyset order: its resident and its position (what the next cursor continues after).</summary>
public interface IPagedRow
{
    Guid ResidentId { get; }

    string Position { get; }
}

/// <summary>One page: the rows that may be provided, the position to continue after, and whether more may follow.</summary>
public sealed record AssembledPage<T>(IReadOnlyList<T> Rows, string? LastPosition, bool MoreMayFollow, int Examined);

/// <summary>
/// Builds one page of brokered records. Rows come from the store in keyset order after the
/// cursor's position; each batch's residents go through the consent decision (asked fresh for
/// every page, so a resident who withdrew is absent from the very next page) and only rows of
/// allowed residents are kept. The cursor moves past every row examined, allowed or not, and one
/// page examines a bounded number of rows so a grant with few consenting residents cannot turn a
/// request into a scan of the whole table.
/// </summary>
public static class RecordPager
{
    public static async Task<AssembledPage<T>> AssembleAsync<T>(
        string? after,
        int pageSize,
        int maxExamined,
        Func<string?, int, CancellationToken, Task<IReadOnlyList<T>>> fetchAfter,
        Func<IReadOnlyCollection<Guid>, CancellationToken, Task<IReadOnlySet<Guid>>> allowedResidents,
        CancellationToken cancellationToken)
        where T : IPagedRow
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pageSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxExamined, pageSize);
        var page = new List<T>(pageSize);
        var position = after;
        var examined = 0;
        while (page.Count < pageSize && examined < maxExamined)
        {
            var want = Math.Min(pageSize - page.Count, maxExamined - examined);
            var batch = await fetchAfter(position, want, cancellationToken);
            if (batch.Count == 0)
            {
                return new AssembledPage<T>(page, position, false, examined);
            }
            var residents = batch.Select(r => r.ResidentId).Distinct().ToList();
            var allowed = await allowedResidents(residents, cancellationToken);
            foreach (var row in batch)
            {
                if (allowed.Contains(row.ResidentId))
                {
                    page.Add(row);
                }
            }
            examined += batch.Count;
            position = batch[^1].Position;
            if (batch.Count < want)
            {
                return new AssembledPage<T>(page, position, false, examined);
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
