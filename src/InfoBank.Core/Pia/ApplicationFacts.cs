using InfoBank.Core.Applications;
using InfoBank.Core.Rules;

namespace InfoBank.Core.Pia;

/// <summary>
/// Turns an application (plus the inventory and purpose vocabulary) into the facts PIA rules and
/// committee policies read. Fields are qualified as <c>category.field</c> (e.g. <c>body.composition.bmi</c>).
/// </summary>
public static class ApplicationFacts
{
    /// <summary>The fact names rules may read; loading refuses a rule that reads anything else.</summary>
    public static readonly IReadOnlySet<string> Roots = new HashSet<string>(StringComparer.Ordinal)
    {
        "purpose", "categories", "fields", "necessary_fields", "special_care", "special_care_categories",
        "retention_days", "max_retention_days", "output", "direct_identifiers", "quasi_identifiers",
        "recipient", "onward_provision", "security", "profiling", "automated_decisions", "consent_mode",
        "benefit", "validity_days", "fetch", "params", "governance",
    };

    /// <param name="held">The recipient's other grants in force (active or suspended); none when the
    /// application is judged on its own (the CLI, a policy test without <c>held_grants</c>).</param>
    public static Dictionary<string, Value> Build(
        ApplicationSpec spec, PiaInventory inventory, PurposeCatalog purposes,
        IReadOnlyDictionary<string, Value> parameters, Value governance, IReadOnlyList<HeldGrant>? held = null)
    {
        var purpose = purposes.Find(spec.Purpose.Code);
        var requested = spec.Data
            .Select(d => (Request: d, Category: inventory.Find(d.Category)))
            .Where(x => x.Category is not null)
            .Select(x => (x.Request, Category: x.Category!))
            .ToList();
        var fields = requested.SelectMany(x => x.Request.Fields.Select(f => $"{x.Category.Code}.{f}")).ToList();
        var necessary = requested
            .SelectMany(x => purpose is not null && purpose.NecessaryFields.TryGetValue(x.Category.Code, out var needed)
                ? needed.Select(f => $"{x.Category.Code}.{f}")
                : [])
            .ToList();
        List<string> FieldsWith(string identifiability) => requested
            .SelectMany(x => x.Request.Fields
                .Where(f => x.Category.Field(f)?.Identifiability == identifiability)
                .Select(f => $"{x.Category.Code}.{f}"))
            .ToList();
        var specialCare = requested.Where(x => x.Category.SpecialCare).Select(x => x.Category.Code).ToList();
        var maxRetention = requested.Count == 0 ? 0 : requested.Min(x => x.Category.MaxRetentionDays);
        var country = spec.Recipient.Country;
        var onward = spec.OnwardProvision;
        var categories = requested.Select(x => x.Category.Code).ToHashSet(StringComparer.Ordinal);
        var overlapping = (held ?? []).Count(h => h.Overlaps(spec.Output.Kind, categories));

        return new Dictionary<string, Value>(StringComparer.Ordinal)
        {
            ["purpose"] = Value.Obj(
                ("code", Value.Of(spec.Purpose.Code)),
                ("known", Value.Of(purpose is not null))),
            ["categories"] = Value.Of(requested.Select(x => x.Category.Code)),
            ["fields"] = Value.Of(fields),
            ["necessary_fields"] = Value.Of(necessary),
            ["special_care"] = Value.Of(specialCare.Count > 0),
            ["special_care_categories"] = Value.Of(specialCare),
            ["retention_days"] = Value.Of(spec.RetentionDays),
            ["max_retention_days"] = Value.Of(maxRetention),
            ["output"] = Value.Obj(
                ("kind", Value.Of(spec.Output.Kind)),
                ("k", spec.Output.K is { } k ? Value.Of(k) : Value.Null),
                ("subject_id", Value.Of(spec.Output.SubjectId ?? (spec.Output.Kind == OutputKinds.Record ? "pseudonymous_per_recipient" : "none")))),
            ["direct_identifiers"] = Value.Of(FieldsWith(Identifiability.Direct)),
            ["quasi_identifiers"] = Value.Of(FieldsWith(Identifiability.Quasi)),
            ["recipient"] = Value.Obj(
                ("country", Value.Of(country)),
                ("foreign", Value.Of(!string.Equals(country, "JP", StringComparison.Ordinal))),
                ("overlapping_aggregate_grants", Value.Of(overlapping))),
            ["onward_provision"] = Value.Obj(
                ("enabled", Value.Of(onward?.Enabled ?? false)),
                ("recipients", Value.Of(onward?.Recipients ?? []))),
            ["security"] = Value.Obj(
                ("isms", Value.Of(spec.Security.Isms)),
                ("privacy_mark", Value.Of(spec.Security.PrivacyMark)),
                ("encryption_at_rest", Value.Of(spec.Security.EncryptionAtRest)),
                ("encryption_in_transit", Value.Of(spec.Security.EncryptionInTransit)),
                ("access_logging", Value.Of(spec.Security.AccessLogging))),
            ["profiling"] = Value.Of(spec.Profiling?.Profiling ?? false),
            ["automated_decisions"] = Value.Of(spec.Profiling?.AutomatedDecisions ?? false),
            ["consent_mode"] = Value.Of(spec.ConsentMode ?? "explicit"),
            ["benefit"] = Value.Obj(("points", Value.Of(spec.Benefit.Points))),
            ["validity_days"] = Value.Of(spec.ValidityDays),
            ["fetch"] = Value.Obj(
                ("frequency", Value.Of(spec.Fetch.Frequency)),
                ("max_records_per_fetch", spec.Fetch.MaxRecordsPerFetch is { } m ? Value.Of(m) : Value.Null)),
            ["params"] = new ObjectValue(parameters),
            ["governance"] = governance,
        };
    }
}

/// <summary>
/// A grant the applying recipient already holds, as the committee policy sees it: what it outputs and
/// which categories it covers.
/// </summary>
public sealed record HeldGrant(Guid GrantId, string OutputKind, IReadOnlyList<string> Categories)
{
    /// <summary>
    /// Whether answers of this grant and of a new one (<paramref name="outputKind"/> over
    /// <paramref name="categories"/>) could be subtracted from each other: they share a category and
    /// at least one of them is an aggregate. Two aggregates over overlapping residents differ by the
    /// residents only one of them counts; an aggregate minus the records of a record grant leaves the
    /// residents who consented only to the aggregate. Either way the difference can be a group smaller
    /// than the minimum group size, which neither grant's own guard sees.
    /// </summary>
    public bool Overlaps(string outputKind, IReadOnlySet<string> categories) =>
        (outputKind == OutputKinds.Aggregate || OutputKind == OutputKinds.Aggregate) && Categories.Any(categories.Contains);
}
