using System.Text.Json;
using InfoBank.Server.Features.Identity;

namespace InfoBank.Server.Features.Access;

public sealed record BusinessRef(string ClientId, string Name);

/// <summary>One passbook line (APPI Art. 29 provision record, as the resident reads it).</summary>
public sealed record PassbookLine(
    Guid AccessId,
    DateTimeOffset At,
    BusinessRef Business,
    string Kind,
    IReadOnlyList<string> Items,
    string Purpose,
    Guid GrantId,
    string Approval,
    int Records,
    int Points);

/// <summary>A page of the passbook; the next page is <c>?before={NextBefore}&amp;beforeId={NextBeforeId}</c>.</summary>
public sealed record Passbook(long TotalPoints, IReadOnlyList<PassbookLine> Lines, DateTimeOffset? NextBefore, Guid? NextBeforeId);

/// <summary>One access as the committee reviews it.</summary>
public sealed record AccessLogView(
    Guid Id,
    DateTimeOffset At,
    Guid GrantId,
    BusinessRef Business,
    string Kind,
    string Outcome,
    Guid? FetchId,
    bool FetchStart,
    int Items,
    int Residents,
    IReadOnlyList<string> DataItems,
    string Purpose,
    string Approval,
    string PolicyHash,
    IReadOnlyList<string> Reasons,
    long? AuditSequence);

/// <summary>A page of the access log; the next page is <c>?to={NextTo}&amp;toId={NextToId}</c> with the same filters.</summary>
public sealed record AccessLogPage(IReadOnlyList<AccessLogView> Entries, DateTimeOffset? NextTo, Guid? NextToId);

public sealed record AlertView(string Key, Guid GrantId, string Kind, DateTimeOffset DetectedAt, string Message);

internal static class AccessViewMapping
{
    public static IReadOnlyList<string> Strings(string json) => JsonSerializer.Deserialize<List<string>>(json) ?? [];

    public static string Json(IEnumerable<string> values) => JsonSerializer.Serialize(values.ToList());

    /// <summary>Display names of the recipients in a page, looked up once each.</summary>
    public static async Task<Dictionary<string, BusinessRef>> BusinessesAsync(IClientDirectory clients, IEnumerable<string> clientIds, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, BusinessRef>(StringComparer.Ordinal);
        foreach (var id in clientIds.Distinct(StringComparer.Ordinal))
        {
            var client = await clients.FindAsync(id, cancellationToken);
            result[id] = new BusinessRef(id, client?.DisplayName ?? id);
        }
        return result;
    }
}
