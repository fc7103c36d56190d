using InfoBank.Core.Pia;
using InfoBank.Core.Rules;

namespace InfoBank.Core.Applications;

/// <summary>
/// What a business asks for: the same shape arrives as JSON over HTTP and as YAML for
/// <c>infobank pia check</c>. Everything the PIA and the committee judge is in here.
/// <paramref name="LookbackDays"/> is the offer's data window: how many days before a resident's first
/// consent the data provided may reach back (0, the default: from the day they consent; at most 365).
/// </summary>
public sealed record ApplicationSpec(
    PurposeSpec Purpose,
    IReadOnlyList<DataRequest> Data,
    OutputSpec Output,
    FetchSpec Fetch,
    int RetentionDays,
    RecipientSpec Recipient,
    OnwardProvisionSpec? OnwardProvision,
    SecuritySpec Security,
    ProfilingSpec? Profiling,
    BenefitSpec Benefit,
    int ValidityDays,
    string? ConsentMode = null,
    int LookbackDays = 0);

/// <summary>A purpose code from the vocabulary (<c>pia/purposes.yaml</c>, W3C DPV) and the business's own words.</summary>
public sealed record PurposeSpec(string Code, LocalizedText Text);

public sealed record DataRequest(string Category, IReadOnlyList<string> Fields);

public static class OutputKinds
{
    public const string Record = "record";
    public const string Aggregate = "aggregate";
}

/// <summary>Record-level or aggregate output; <paramref name="K"/> is the minimum group size for aggregates.</summary>
public sealed record OutputSpec(string Kind, int? K, string? SubjectId);

public sealed record FetchSpec(string Frequency, int? MaxRecordsPerFetch);

public sealed record RecipientSpec(string Country);

public sealed record OnwardProvisionSpec(bool Enabled, IReadOnlyList<string>? Recipients);

public sealed record SecuritySpec(bool Isms, bool PrivacyMark, bool EncryptionAtRest, bool EncryptionInTransit, bool AccessLogging);

public sealed record ProfilingSpec(bool Profiling, bool AutomatedDecisions);

public sealed record BenefitSpec(int Points, LocalizedText Description);

public static class ApplicationSpecValidation
{
    public static readonly string[] Frequencies = ["once", "daily", "weekly", "monthly"];
    public static readonly string[] SubjectIds = ["pseudonymous_per_recipient", "resident_id", "none"];
    public static readonly string[] ConsentModes = ["explicit", "opt_out"];

    /// <summary>
    /// Shape checks that do not need judgement (missing parts, unknown categories and fields, bad
    /// codes). Judgement — is it necessary, is it allowed — is the PIA's and the committee's job.
    /// </summary>
    public static Dictionary<string, string[]> Validate(ApplicationSpec? spec, PiaInventory inventory, PurposeCatalog purposes)
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
        if (spec is null)
        {
            Add("$", "the application is empty");
            return Done();
        }
        if (spec.Purpose is null)
        {
            Add("purpose", "purpose is required (code and text in ja/en)");
        }
        else
        {
            if (string.IsNullOrWhiteSpace(spec.Purpose.Code) || purposes.Find(spec.Purpose.Code) is null)
            {
                Add("purpose.code", $"'{spec.Purpose.Code}' is not a purpose in the vocabulary ({string.Join(", ", purposes.Purposes.Select(p => p.Code))})");
            }
            CheckText("purpose.text", spec.Purpose.Text, 2000);
        }
        if (spec.Data is null || spec.Data.Count == 0)
        {
            Add("data", "at least one data category with fields is required");
        }
        else
        {
            for (var i = 0; i < spec.Data.Count; i++)
            {
                var request = spec.Data[i];
                var category = request?.Category is null ? null : inventory.Find(request.Category);
                if (request is null || category is null)
                {
                    Add($"data[{i}].category", $"'{request?.Category}' is not a category in the data inventory ({string.Join(", ", inventory.Categories.Select(c => c.Code))})");
                    continue;
                }
                if (spec.Data.Take(i).Any(d => d?.Category == request.Category))
                {
                    Add($"data[{i}].category", $"'{request.Category}' is listed twice");
                }
                if (request.Fields is null || request.Fields.Count == 0)
                {
                    Add($"data[{i}].fields", "at least one field is required");
                    continue;
                }
                foreach (var field in request.Fields.Where(f => category.Field(f) is null))
                {
                    Add($"data[{i}].fields", $"'{field}' is not a field of '{category.Code}' ({string.Join(", ", category.Fields.Select(f => f.Name))})");
                }
                if (request.Fields.Distinct(StringComparer.Ordinal).Count() != request.Fields.Count)
                {
                    Add($"data[{i}].fields", "a field is listed twice");
                }
            }
        }
        if (spec.Output is null || spec.Output.Kind is not (OutputKinds.Record or OutputKinds.Aggregate))
        {
            Add("output.kind", "output.kind must be 'record' or 'aggregate'");
        }
        else
        {
            if (spec.Output.Kind == OutputKinds.Aggregate && spec.Output.K is null)
            {
                Add("output.k", "aggregate output needs the minimum group size k");
            }
            if (spec.Output.K is < 1 or > 1_000_000)
            {
                Add("output.k", "k must be between 1 and 1000000");
            }
            if (spec.Output.SubjectId is not null && !SubjectIds.Contains(spec.Output.SubjectId))
            {
                Add("output.subjectId", $"subject id must be one of {string.Join(", ", SubjectIds)}");
            }
        }
        if (spec.Fetch is null || !Frequencies.Contains(spec.Fetch.Frequency))
        {
            Add("fetch.frequency", $"fetch frequency must be one of {string.Join(", ", Frequencies)}");
        }
        else if (spec.Fetch.MaxRecordsPerFetch is < 1)
        {
            Add("fetch.maxRecordsPerFetch", "must be at least 1");
        }
        if (spec.RetentionDays is < 1 or > 36_500)
        {
            Add("retentionDays", "retention at the recipient must be between 1 and 36500 days");
        }
        if (spec.Recipient is null || spec.Recipient.Country is null || spec.Recipient.Country.Length != 2 || !spec.Recipient.Country.All(char.IsAsciiLetterUpper))
        {
            Add("recipient.country", "the recipient's country is required as an ISO 3166-1 alpha-2 code, e.g. JP");
        }
        if (spec.OnwardProvision is { Recipients: { Count: > 50 } })
        {
            Add("onwardProvision.recipients", "at most 50 onward recipients");
        }
        if (spec.Security is null)
        {
            Add("security", "security attestations are required (isms, privacyMark, encryptionAtRest, encryptionInTransit, accessLogging)");
        }
        if (spec.Benefit is null)
        {
            Add("benefit", "the benefit offered to residents is required");
        }
        else
        {
            if (spec.Benefit.Points is < 0 or > 100_000)
            {
                Add("benefit.points", "points must be between 0 and 100000");
            }
            CheckText("benefit.description", spec.Benefit.Description, 1000);
        }
        if (spec.ValidityDays is < 1 or > 3650)
        {
            Add("validityDays", "the validity period must be between 1 and 3650 days");
        }
        if (spec.ConsentMode is not null && !ConsentModes.Contains(spec.ConsentMode))
        {
            Add("consentMode", $"consent mode must be one of {string.Join(", ", ConsentModes)}");
        }
        return Done();

        void CheckText(string key, LocalizedText? text, int max)
        {
            if (text is null || string.IsNullOrWhiteSpace(text.Ja) || string.IsNullOrWhiteSpace(text.En))
            {
                Add(key, "text is required in both ja and en");
            }
            else if (text.Ja.Length > max || text.En.Length > max)
            {
                Add(key, $"text must be at most {max} characters");
            }
        }

        Dictionary<string, string[]> Done() => errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal);
    }
}
