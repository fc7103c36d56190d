using InfoBank.Core.Access;
using InfoBank.Core.Custody;
using InfoBank.Server.Features.Applications;

namespace InfoBank.Server.Features.Access;

/// <summary>
/// What brokered access needs of a committee grant, read fresh from the applications feature on
/// every request (a suspension or revocation counts from the very next request).
/// </summary>
public sealed record GrantTerms(
    Guid Id,
    Guid ApplicationId,
    string Recipient,
    string Status,
    string? StatusReason,
    DateTimeOffset ValidFrom,
    DateTimeOffset ValidUntil,
    string PurposeCode,
    IReadOnlyDictionary<string, IReadOnlySet<string>> Fields,
    bool AggregateOnly,
    int? K,
    FetchPolicy Fetch,
    int BenefitPoints,
    string PolicyHash)
{
    public const string Active = "active";

    /// <summary>The approved categories, in a fixed order (their order in the cursor position).</summary>
    public IReadOnlyList<string> Categories => [.. Fields.Keys.Order(StringComparer.Ordinal)];

    /// <summary>The approved items as the passbook and the log name them: <c>category.field</c>.</summary>
    public IReadOnlyList<string> Items => [.. Fields.OrderBy(f => f.Key, StringComparer.Ordinal).SelectMany(f => f.Value.Order(StringComparer.Ordinal).Select(v => $"{f.Key}.{v}"))];

    /// <summary>What approval the access relies on, for the passbook and the log.</summary>
    public string Approval => $"Ethics committee grant {Id} (application {ApplicationId}), policy {PolicyHash}";

    /// <summary>
    /// The approved data window: the grant's validity period, up to now. Data observed before the
    /// committee approved the use, or after the grant ends, was never part of what it approved.
    /// </summary>
    public (DateTimeOffset From, DateTimeOffset To) DataWindow(DateTimeOffset now) => (ValidFrom, now < ValidUntil ? now : ValidUntil);

    /// <summary>Why the grant cannot be used at <paramref name="now"/>, or null when it can.</summary>
    public string? Inactive(DateTimeOffset now) =>
        Status != Active ? $"The grant is {Status}{(StatusReason is { Length: > 0 } r ? $": {r}" : "")}."
        : now < ValidFrom ? $"The grant is valid only from {ValidFrom:O}."
        : now >= ValidUntil ? $"The grant expired at {ValidUntil:O}."
        : null;

    /// <summary>
    /// The aggregate spec of one approved category: its approved numeric fields are the figures, its
    /// approved closed-list text fields (e.g. <c>ward</c>) the dimensions, plus the week.
    /// </summary>
    public AggregateSpec? AggregateSpec(string category, DataInventory inventory, TimeSpan offset)
    {
        if (!Fields.TryGetValue(category, out var fields) || inventory.Find(category) is not { } known)
        {
            return null;
        }
        var approved = fields.Order(StringComparer.Ordinal).Select(f => known.Fields.GetValueOrDefault(f)).OfType<InventoryField>().ToList();
        return new AggregateSpec(
            [.. approved.Where(f => f.Type == FieldType.String && f.Values is { Count: > 0 }).Select(f => f.Name)],
            [.. approved.Where(f => f.Type is FieldType.Integer or FieldType.Number).Select(f => f.Name)],
            Math.Max(K ?? 10, 2), BucketPeriod.Week, offset, ValidFrom, ValidUntil);
    }

    public static GrantTerms From(GrantView grant) => new(
        grant.Id,
        grant.ApplicationId,
        grant.RecipientClientId,
        grant.Status,
        grant.StatusReason,
        grant.ValidFrom,
        grant.ValidUntil,
        grant.PurposeCode,
        grant.Data.ToDictionary(d => d.Category, d => (IReadOnlySet<string>)d.Fields.ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal),
        grant.OutputKind == "aggregate",
        grant.MinGroupSize,
        FetchPolicy.FromFrequency(grant.FetchFrequency, grant.MaxRecordsPerFetch),
        grant.BenefitPoints,
        grant.PolicyHash);
}
