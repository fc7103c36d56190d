using InfoBank.Core.Applications;
using InfoBank.Core.Pia;

namespace InfoBank.Core.Tests.Applications;

/// <summary>Each shipped PIA rule fires on an application made to break it, and not on the clean one.</summary>
public sealed class PiaRuleTests
{
    private static readonly ApplicationSpec Clean = RuleFiles.Example("fitness-club");

    public static TheoryData<string, string> Breakers => new()
    {
        { "PIA-THRESHOLD", "record" },
        { "PIA-MIN-001", "extra-field" },
        { "PIA-MIN-002", "long-retention" },
        { "PIA-SC-001", "special-care-opt-out" },
        { "PIA-SC-002", "special-care" },
        { "PIA-ID-001", "small-k" },
        { "PIA-ID-002", "direct-identifier" },
        { "PIA-ID-003", "quasi-identifiers" },
        { "PIA-TR-001", "foreign" },
        { "PIA-TR-002", "onward" },
        { "PIA-SEC-001", "no-encryption" },
        { "PIA-PROF-001", "profiling" },
        { "PIA-FREQ-001", "record-daily" },
    };

    private static ApplicationSpec Break(string how) => how switch
    {
        "record" => Clean with { Output = new OutputSpec(OutputKinds.Record, null, "pseudonymous_per_recipient") },
        "extra-field" => Clean with { Data = [.. Clean.Data, new DataRequest("location.visit", ["placeId", "dwellSeconds"])] },
        "long-retention" => Clean with { RetentionDays = 1096 },
        "special-care-opt-out" => Clean with { Data = [new DataRequest("body.composition", ["bmi"])], Purpose = Clean.Purpose with { Code = "dpv:AcademicResearch" }, ConsentMode = "opt_out" },
        "special-care" => Clean with { Data = [new DataRequest("body.composition", ["bmi"])], Purpose = Clean.Purpose with { Code = "dpv:AcademicResearch" } },
        "small-k" => Clean with { Output = new OutputSpec(OutputKinds.Aggregate, 9, null) },
        "direct-identifier" => Clean with
        {
            Purpose = Clean.Purpose with { Code = "dpv:PersonalisedAdvertising" },
            Data = [new DataRequest("search.query", ["query"])],
            Output = new OutputSpec(OutputKinds.Record, null, "pseudonymous_per_recipient"),
        },
        "quasi-identifiers" => Clean with
        {
            Purpose = Clean.Purpose with { Code = "dpv:CommercialResearch" },
            Data = [new DataRequest("location.visit", ["placeId", "ward"]), new DataRequest("purchase.item", ["storeId"])],
            Output = new OutputSpec(OutputKinds.Record, null, "pseudonymous_per_recipient"),
        },
        "foreign" => Clean with { Recipient = new RecipientSpec("SG") },
        "onward" => Clean with { OnwardProvision = new OnwardProvisionSpec(true, ["partner"]) },
        "no-encryption" => Clean with { Security = Clean.Security with { EncryptionAtRest = false } },
        "profiling" => Clean with { Profiling = new ProfilingSpec(true, false) },
        "record-daily" => Clean with { Output = new OutputSpec(OutputKinds.Record, null, null), Fetch = new FetchSpec("daily", null) },
        _ => throw new ArgumentOutOfRangeException(nameof(how)),
    };

    [Fact]
    public void The_clean_application_fires_no_rule_and_passes()
    {
        var report = RuleFiles.Shipped.Value.Assess(Clean).Pia;
        Assert.Empty(report.Findings);
        Assert.Empty(report.Errors);
        Assert.Equal(PiaOutcomes.Pass, report.Outcome);
        Assert.False(report.FullAssessmentRequired);
        Assert.Equal(RuleFiles.Shipped.Value.Pia.Rules.Select(r => r.Id), report.PassedRuleIds);
    }

    [Theory]
    [MemberData(nameof(Breakers))]
    public void Each_rule_fires_on_an_application_that_breaks_it(string ruleId, string how)
    {
        var spec = Break(how);
        Assert.Empty(ApplicationSpecValidation.Validate(spec, RuleFiles.Shipped.Value.Inventory, RuleFiles.Shipped.Value.Purposes));
        var report = RuleFiles.Shipped.Value.Assess(spec).Pia;
        Assert.Empty(report.Errors);
        var finding = Assert.Single(report.Findings, f => f.RuleId == ruleId);
        Assert.NotEmpty(finding.Evidence);
        Assert.StartsWith("pia/rules/", finding.Source);
        var expected = report.Findings.Any(f => f.Severity == Severities.Blocker) ? PiaOutcomes.Blocked
            : report.Findings.Any(f => f.Severity == Severities.Major) ? PiaOutcomes.ReviewRequired : PiaOutcomes.Pass;
        Assert.Equal(expected, report.Outcome);
    }

    [Fact]
    public void Every_shipped_rule_has_a_breaking_case()
    {
        var covered = Breakers.Select(row => (string)row[0]).ToHashSet();
        Assert.All(RuleFiles.Shipped.Value.Pia.Rules, rule => Assert.Contains(rule.Id, covered));
    }

    [Fact]
    public void Minimisation_evidence_names_the_unnecessary_fields()
    {
        var spec = Clean with { Data = [.. Clean.Data, new DataRequest("location.visit", ["placeId", "dwellSeconds"])] };
        var finding = Assert.Single(RuleFiles.Shipped.Value.Assess(spec).Pia.Findings, f => f.RuleId == "PIA-MIN-001");
        Assert.Equal(new List<object?> { "location.visit.dwellSeconds" }, finding.Evidence["unnecessary_fields"]);
    }

    [Fact]
    public void Threshold_marks_a_full_assessment()
    {
        var report = RuleFiles.Shipped.Value.Assess(Break("record")).Pia;
        Assert.True(report.FullAssessmentRequired);
    }

    [Fact]
    public void Risk_register_has_the_three_feared_events_scored_after_measures()
    {
        var clean = RuleFiles.Shipped.Value.Assess(Clean).Pia.Risks;
        Assert.Equal(["illegitimate_access", "unwanted_modification", "disappearance"], clean.Select(r => r.Event));
        Assert.All(clean, r => Assert.InRange(r.Severity, 1, 4));
        Assert.Equal((1, 1), (clean[0].Severity, clean[0].Likelihood));

        var research = RuleFiles.Shipped.Value.Assess(RuleFiles.Example("health-research")).Pia.Risks;
        Assert.Equal(4, research[0].Severity);
        var unprotected = RuleFiles.Shipped.Value.Assess(Break("no-encryption")).Pia.Risks;
        Assert.Equal(4, unprotected[0].Likelihood);
    }

    [Fact]
    public void Demo_examples_land_where_the_demo_needs_them()
    {
        var catalog = RuleFiles.Shipped.Value;
        Assert.Equal(PiaOutcomes.Pass, catalog.Assess(RuleFiles.Example("fitness-club")).Pia.Outcome);
        var research = catalog.Assess(RuleFiles.Example("health-research"));
        Assert.Equal(PiaOutcomes.ReviewRequired, research.Pia.Outcome);
        Assert.False(research.Blocked);
        var mall = catalog.Assess(RuleFiles.Example("shopping-mall"));
        Assert.True(mall.Blocked);
        Assert.Contains("PIA-MIN-001", mall.Pia.FiredRuleIds);
        Assert.Contains("PIA-ID-001", mall.Pia.FiredRuleIds);
    }
}
