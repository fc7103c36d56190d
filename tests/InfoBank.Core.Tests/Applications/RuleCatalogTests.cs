using InfoBank.Core.Rules;

namespace InfoBank.Core.Tests.Applications;

public sealed class RuleCatalogTests
{
    [Fact]
    public void Shipped_files_load_with_a_stable_content_hash()
    {
        var again = RuleCatalog.Load(RuleFiles.Pia, RuleFiles.Policies);
        Assert.Matches("^sha256:[0-9a-f]{64}$", again.Hash);
        Assert.Equal(RuleFiles.Shipped.Value.Hash, again.Hash);
        Assert.Contains("pia/rules/10-minimisation.yaml", again.Files);
        Assert.Contains("policies/committee.yaml", again.Files);
        Assert.DoesNotContain(again.Files, f => f.StartsWith("policies/tests/", StringComparison.Ordinal) || f.StartsWith("pia/examples/", StringComparison.Ordinal));
    }

    [Fact]
    public void Changing_one_byte_of_a_rule_file_changes_the_hash()
    {
        var root = RuleFiles.CopyToTemp();
        var before = RuleCatalog.LoadFromRoot(root).Hash;
        File.AppendAllText(Path.Combine(root, "policies", "committee.yaml"), "\n# note\n");
        Assert.NotEqual(before, RuleCatalog.LoadFromRoot(root).Hash);
    }

    [Theory]
    [InlineData("pia/rules/10-minimisation.yaml", "  - id: PIA-MIN-001", "  - id: [PIA-MIN-001", "pia/rules/10-minimisation.yaml:", "not valid YAML")]
    [InlineData("pia/rules/10-minimisation.yaml", "severity: blocker", "severity: fatal", "pia/rules/10-minimisation.yaml:5:", "must be blocker, major or minor")]
    [InlineData("pia/rules/10-minimisation.yaml", "\"not (fields subset necessary_fields)\"", "\"not (fields subset needed_fields)\"", "pia/rules/10-minimisation.yaml:6:", "unknown fact(s) needed_fields")]
    [InlineData("pia/rules/10-minimisation.yaml", "\"not (fields subset necessary_fields)\"", "\"not (fields subset\"", "pia/rules/10-minimisation.yaml:6:", "column 19")]
    [InlineData("policies/committee.yaml", "effect: forbid", "effect: allow", "policies/committee.yaml:", "must be permit, forbid or review")]
    [InlineData("policies/committee.yaml", "quorum: 3", "quorum: three", "policies/committee.yaml:", "'quorum' must be a whole number")]
    [InlineData("pia/purposes.yaml", "[steps, activeMinutes]", "[steps, activeMinutes, stairs]", "pia/purposes.yaml:9:", "'stairs' is not a field of 'steps.daily'")]
    [InlineData("pia/identifiability.yaml", "    ward: quasi", "    wards: quasi", "pia/identifiability.yaml:11:", "'wards' is not a field of 'location.visit'")]
    [InlineData("pia/identifiability.yaml", "query: direct", "query: very", "pia/identifiability.yaml:16:", "must be direct, quasi or none")]
    [InlineData("pia/inventory.yaml", "retentionDays: 90", "retentionDays: -1", "pia/inventory.yaml:", "retentionDays must be a positive")]
    [InlineData("pia/risks.yaml", "      - { level: 1 }\n  - id: unwanted_modification", "  - id: unwanted_modification", "pia/risks.yaml:", "must end with a default step")]
    public void Malformed_files_are_refused_naming_file_and_line(string file, string find, string replace, string where, string problem)
    {
        var root = RuleFiles.CopyToTemp();
        var path = Path.Combine(root, file);
        var text = File.ReadAllText(path);
        Assert.Contains(find, text);
        File.WriteAllText(path, text.Replace(find, replace, StringComparison.Ordinal));
        var error = Assert.Throws<RuleFileException>(() => RuleCatalog.LoadFromRoot(root));
        Assert.StartsWith(where, error.Message);
        Assert.Contains(problem, error.Message);
        Assert.True(error.Line > 0 || file == "pia/inventory.yaml");
    }

    [Fact]
    public void Duplicate_rule_ids_across_files_are_refused()
    {
        var root = RuleFiles.CopyToTemp();
        File.Copy(Path.Combine(root, "pia", "rules", "10-minimisation.yaml"), Path.Combine(root, "pia", "rules", "11-copy.yaml"));
        var error = Assert.Throws<RuleFileException>(() => RuleCatalog.LoadFromRoot(root));
        Assert.Contains("pia/rules/11-copy.yaml:2:", error.Message);
        Assert.Contains("defined twice", error.Message);
    }
}
