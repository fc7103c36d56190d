using System.Text.Json;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Web;

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

/// <summary>A page of the passbook (the list convention's <c>items</c> and <c>next</c>), and the points the resident earned in all (every page, not just this one).</summary>
public sealed record Passbook(IReadOnlyList<PassbookLine> Items, string? Next, long TotalPoints) : Page<PassbookLine>(Items, Next);

/// <summary>Where a page of the passbook ends (newest first): the cursor of the passbook.</summary>
public sealed record PassbookPosition(DateTimeOffset At, Guid AccessId);

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

/// <summary>Where a page of the access log ends (newest first): the cursor of the access log.</summary>
public sealed record AccessLogPosition(DateTimeOffset At, Guid Id);

public sealed record AlertView(string Key, Guid GrantId, string Kind, DateTimeOffset DetectedAt, string Message);

/// <summary>Where a page of the alerts ends (newest first): the cursor of the alert list.</summary>
public sealed record AlertPosition(DateTimeOffset DetectedAt, string Key);

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
