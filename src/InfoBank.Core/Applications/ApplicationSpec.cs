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
        var errors = new Errors();
        if (spec is null)
        {
            errors.Add("$", "the application is empty");
            return errors.ToDictionary();
        }
        CheckPurpose(spec.Purpose, purposes, errors);
        CheckData(spec.Data, inventory, errors);
        CheckOutput(spec.Output, errors);
        CheckFetch(spec.Fetch, errors);
        CheckRecipient(spec, errors);
        CheckSecurity(spec.Security, errors);
        CheckBenefit(spec.Benefit, errors);
        CheckTerms(spec, errors);
        return errors.ToDictionary();
    }

    private static void CheckPurpose(PurposeSpec? purpose, PurposeCatalog purposes, Errors errors)
    {
        if (purpose is null)
        {
            errors.Add("purpose", "purpose is required (code and text in ja/en)");
            return;
        }
        if (string.IsNullOrWhiteSpace(purpose.Code) || purposes.Find(purpose.Code) is null)
        {
            errors.Add("purpose.code", $"'{purpose.Code}' is not a purpose in the vocabulary ({string.Join(", ", purposes.Purposes.Select(p => p.Code))})");
        }
        errors.CheckText("purpose.text", purpose.Text, 2000);
    }

    private static void CheckData(IReadOnlyList<DataRequest>? data, PiaInventory inventory, Errors errors)
    {
        if (data is null || data.Count == 0)
        {
            errors.Add("data", "at least one data category with fields is required");
            return;
        }
        for (var i = 0; i < data.Count; i++)
        {
            CheckDataRequest(data, i, inventory, errors);
        }
    }

    // One category request: the category must exist and appear once, its fields belong to it, once each.
    private static void CheckDataRequest(IReadOnlyList<DataRequest> data, int i, PiaInventory inventory, Errors errors)
    {
        DataRequest? request = data[i];
        var category = request?.Category is null ? null : inventory.Find(request.Category);
        if (request is null || category is null)
        {
            errors.Add($"data[{i}].category", $"'{request?.Category}' is not a category in the data inventory ({string.Join(", ", inventory.Categories.Select(c => c.Code))})");
            return;
        }
        if (data.Take(i).Any(d => d?.Category == request.Category))
        {
            errors.Add($"data[{i}].category", $"'{request.Category}' is listed twice");
        }
        if (request.Fields is null || request.Fields.Count == 0)
        {
            errors.Add($"data[{i}].fields", "at least one field is required");
            return;
        }
        foreach (var field in request.Fields.Where(f => category.Field(f) is null))
        {
            errors.Add($"data[{i}].fields", $"'{field}' is not a field of '{category.Code}' ({string.Join(", ", category.Fields.Select(f => f.Name))})");
        }
        if (request.Fields.Distinct(StringComparer.Ordinal).Count() != request.Fields.Count)
        {
            errors.Add($"data[{i}].fields", "a field is listed twice");
        }
    }

    private static void CheckOutput(OutputSpec? output, Errors errors)
    {
        if (output is null || output.Kind is not (OutputKinds.Record or OutputKinds.Aggregate))
        {
            errors.Add("output.kind", "output.kind must be 'record' or 'aggregate'");
            return;
        }
        if (output.Kind == OutputKinds.Aggregate && output.K is null)
        {
            errors.Add("output.k", "aggregate output needs the minimum group size k");
        }
        if (output.K is < 1 or > 1_000_000)
        {
            errors.Add("output.k", "k must be between 1 and 1000000");
        }
        if (output.SubjectId is not null && !SubjectIds.Contains(output.SubjectId))
        {
            errors.Add("output.subjectId", $"subject id must be one of {string.Join(", ", SubjectIds)}");
        }
    }

    private static void CheckFetch(FetchSpec? fetch, Errors errors)
    {
        if (fetch is null || !Frequencies.Contains(fetch.Frequency))
        {
            errors.Add("fetch.frequency", $"fetch frequency must be one of {string.Join(", ", Frequencies)}");
        }
        else if (fetch.MaxRecordsPerFetch is < 1)
        {
            errors.Add("fetch.maxRecordsPerFetch", "must be at least 1");
        }
    }

    // Where the data goes and for how long: retention there, the recipient's country, onward recipients.
    private static void CheckRecipient(ApplicationSpec spec, Errors errors)
    {
        if (spec.RetentionDays is < 1 or > 36_500)
        {
            errors.Add("retentionDays", "retention at the recipient must be between 1 and 36500 days");
        }
        if (spec.Recipient is null || spec.Recipient.Country is null || spec.Recipient.Country.Length != 2 || !spec.Recipient.Country.All(char.IsAsciiLetterUpper))
        {
            errors.Add("recipient.country", "the recipient's country is required as an ISO 3166-1 alpha-2 code, e.g. JP");
        }
        if (spec.OnwardProvision is { Recipients: { Count: > 50 } })
        {
            errors.Add("onwardProvision.recipients", "at most 50 onward recipients");
        }
    }

    private static void CheckSecurity(SecuritySpec? security, Errors errors)
    {
        if (security is null)
        {
            errors.Add("security", "security attestations are required (isms, privacyMark, encryptionAtRest, encryptionInTransit, accessLogging)");
        }
    }

    private static void CheckBenefit(BenefitSpec? benefit, Errors errors)
    {
        if (benefit is null)
        {
            errors.Add("benefit", "the benefit offered to residents is required");
            return;
        }
        if (benefit.Points is < 0 or > 100_000)
        {
            errors.Add("benefit.points", "points must be between 0 and 100000");
        }
        errors.CheckText("benefit.description", benefit.Description, 1000);
    }

    // The consent itself: how long it is valid and how residents give it.
    private static void CheckTerms(ApplicationSpec spec, Errors errors)
    {
        if (spec.ValidityDays is < 1 or > 3650)
        {
            errors.Add("validityDays", "the validity period must be between 1 and 3650 days");
        }
        if (spec.ConsentMode is not null && !ConsentModes.Contains(spec.ConsentMode))
        {
            errors.Add("consentMode", $"consent mode must be one of {string.Join(", ", ConsentModes)}");
        }
    }

    /// <summary>Messages per JSON path, in the order they were found.</summary>
    private sealed class Errors
    {
        private readonly Dictionary<string, List<string>> byKey = new(StringComparer.Ordinal);

        public void Add(string key, string message)
        {
            if (!byKey.TryGetValue(key, out var list))
            {
                byKey[key] = list = [];
            }
            list.Add(message);
        }

        public void CheckText(string key, LocalizedText? text, int max)
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

        public Dictionary<string, string[]> ToDictionary() => byKey.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal);
    }
}
